"""Superfone leads and catalogs (superfone_api.md §3, §5)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import attrs

from crm_core import Request, RequestKind, ValidationError
from crm_core._decode import structure
from crm_core._resource import Resource
from crm_core._validation import check_int_range, check_text

from ._models import Address, Lead, Page
from ._paging import PageIterator
from ._wire import BODY_CONVERTER, UNSET, request_body
from ._wire import Unset as _Unset

__all__ = ["UNSET", "Catalog", "LeadUpsert", "Leads", "build_lead_upsert", "check_e164"]

T = TypeVar("T")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def check_e164(field: str, value: object) -> str:
    """An E.164 phone number such as ``+918000000001``."""
    if not isinstance(value, str) or not _E164.match(value.strip()):
        raise ValidationError(field, value, "an E.164 phone number such as '+918000000001'")
    return value.strip()


def _strings(field: str, value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationError(field, value, "a list of strings")
    items = [check_text(field, item) for item in value]
    if not items:
        raise ValidationError(field, value, "a non-empty list of strings")
    return items


def _opt_text(field: str, value: object) -> str | None:
    return None if value is None else check_text(field, value)


def _opt_strings(field: str, value: object) -> list[str] | None:
    return None if value is None else _strings(field, value)


@request_body
@attrs.frozen(kw_only=True)
class LeadUpsert:
    """A checked Create or Update Lead request (build it with :func:`build_lead_upsert`).

    Source: POST /enterprise/api/lead

    Fields left at ``None`` (or :data:`UNSET`) are not sent; ``None`` in the three nullable
    fields (``assignee_user_phone``, ``lead_stage_name``, ``lead_group_name``) is sent as
    ``null``, which clears them. ``create_if_not_found`` is sent as
    ``create_customer_if_customer_phone_not_found`` only when true.
    """

    customer_phone: str
    create_if_not_found: bool = attrs.field(
        default=False, metadata={"wire": "create_customer_if_customer_phone_not_found", "omit_default": True}
    )
    first_name: str | None = None
    last_name: str | None = None
    email: list[str] | None = None
    website: str | None = None
    address: Address | None = None
    city: str | None = None
    business_name: str | None = None
    additional_info: str | None = None
    deal_value: float | None = None
    source: str | None = None
    source_type: str | None = None
    assignee_user_phone: str | _Unset | None = UNSET
    lead_stage_name: str | _Unset | None = UNSET
    lead_group_name: str | _Unset | None = UNSET
    add_labels: list[str] | None = None
    remove_labels: list[str] | None = None
    add_products: list[str] | None = None
    add_phones: list[str] | None = None
    customer_note: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body through the converter, in the docs' field order.

        ``{"customer_phone": "+918000000001", "lead_stage_name": None, "add_labels": ["Hot"]}``
        """
        body: dict[str, Any] = BODY_CONVERTER.unstructure(self)
        return body


def build_lead_upsert(
    *,
    customer_phone: object,
    create_if_not_found: bool = False,
    first_name: str | None = None,
    last_name: str | None = None,
    email: Sequence[str] | None = None,
    website: str | None = None,
    address: Address | None = None,
    city: str | None = None,
    business_name: str | None = None,
    additional_info: str | None = None,
    deal_value: float | None = None,
    source: str | None = None,
    source_type: str | None = None,
    assignee_user_phone: str | _Unset | None = UNSET,
    lead_stage_name: str | _Unset | None = UNSET,
    lead_group_name: str | _Unset | None = UNSET,
    add_labels: Sequence[str] | None = None,
    remove_labels: Sequence[str] | None = None,
    add_products: Sequence[str] | None = None,
    add_phones: Sequence[str] | None = None,
    customer_note: str | None = None,
) -> LeadUpsert:
    """Check upsert arguments (see :meth:`Leads.upsert`); nothing is sent.

    Returns:
        The checked request; ``.body()`` is the JSON body with only what was given.

    Raises:
        ValidationError: a bad field, or ``add_labels`` together with ``remove_labels``.
    """
    phone = check_e164("customer_phone", customer_phone)
    if add_labels is not None and remove_labels is not None:
        raise ValidationError("remove_labels", list(remove_labels), "not together with add_labels (send two upserts)")
    if address is not None and not isinstance(address, Address):
        raise ValidationError("address", address, "an Address(text=..., ...)")
    if deal_value is not None and (
        isinstance(deal_value, bool) or not isinstance(deal_value, int | float) or deal_value < 0
    ):
        raise ValidationError("deal_value", deal_value, "a number >= 0")
    if not isinstance(create_if_not_found, bool):
        raise ValidationError("create_if_not_found", create_if_not_found, "True or False")
    assignee: str | _Unset | None = assignee_user_phone
    if assignee_user_phone is not UNSET and assignee_user_phone is not None:
        assignee = check_e164("assignee_user_phone", assignee_user_phone)
    nullable: dict[str, str | _Unset | None] = {}
    for name, value in (("lead_stage_name", lead_stage_name), ("lead_group_name", lead_group_name)):
        nullable[name] = value if value is UNSET or value is None else check_text(name, value)
    return LeadUpsert(
        customer_phone=phone,
        create_if_not_found=create_if_not_found,
        first_name=_opt_text("first_name", first_name),
        last_name=_opt_text("last_name", last_name),
        email=_opt_strings("email", email),
        website=_opt_text("website", website),
        address=address,
        city=_opt_text("city", city),
        business_name=_opt_text("business_name", business_name),
        additional_info=_opt_text("additional_info", additional_info),
        deal_value=deal_value,
        source=_opt_text("source", source),
        source_type=_opt_text("source_type", source_type),
        assignee_user_phone=assignee,
        lead_stage_name=nullable["lead_stage_name"],
        lead_group_name=nullable["lead_group_name"],
        add_labels=_opt_strings("add_labels", add_labels),
        remove_labels=_opt_strings("remove_labels", remove_labels),
        add_products=_opt_strings("add_products", add_products),
        add_phones=None
        if add_phones is None
        else [check_e164("add_phones", p) for p in _strings("add_phones", add_phones)],
        customer_note=_opt_text("customer_note", customer_note),
    )


@attrs.frozen(kw_only=True)
class Leads(Resource):
    """Superfone leads. Reach it as ``client.leads``."""

    async def upsert(
        self,
        *,
        customer_phone: str,
        create_if_not_found: bool = False,
        first_name: str | None = None,
        last_name: str | None = None,
        email: Sequence[str] | None = None,
        website: str | None = None,
        address: Address | None = None,
        city: str | None = None,
        business_name: str | None = None,
        additional_info: str | None = None,
        deal_value: float | None = None,
        source: str | None = None,
        source_type: str | None = None,
        assignee_user_phone: str | _Unset | None = UNSET,
        lead_stage_name: str | _Unset | None = UNSET,
        lead_group_name: str | _Unset | None = UNSET,
        add_labels: Sequence[str] | None = None,
        remove_labels: Sequence[str] | None = None,
        add_products: Sequence[str] | None = None,
        add_phones: Sequence[str] | None = None,
        customer_note: str | None = None,
    ) -> Lead:
        """Create or update the lead whose primary phone is ``customer_phone``; return it.

        Source: POST /enterprise/api/lead

        Only the arguments given are sent. ``assignee_user_phone``, ``lead_stage_name`` and
        ``lead_group_name`` accept ``None`` to clear them. An upsert is safe to retry (it sets
        state), except with ``customer_note``, which appends a timeline note: then it is
        retried only when the failure shows it did not happen.

        Args:
            customer_phone: Primary phone, E.164 (``+918000000001``): the match key.
            create_if_not_found: Create the lead when no lead has this phone (sent as
                ``create_customer_if_customer_phone_not_found``).
            first_name: First name.
            last_name: Last name.
            email: Email addresses.
            website: Website.
            address: Address object.
            city: City.
            business_name: Business name.
            additional_info: Free-form notes.
            deal_value: Deal value (a number >= 0).
            source: Free-form source (``"website-form"``).
            source_type: A source-type title (see :attr:`SuperfoneClient.source_types`).
            assignee_user_phone: A team member's E.164 phone; ``None`` unassigns.
            lead_stage_name: A stage title; ``None`` clears.
            lead_group_name: A group title (must be unique); ``None`` clears.
            add_labels: Label titles to add (not with ``remove_labels``).
            remove_labels: Label titles to remove (not with ``add_labels``).
            add_products: Product titles to add.
            add_phones: Extra E.164 phones.
            customer_note: A note for the lead's timeline.

        Raises:
            ValidationError: bad input, or both label lists (nothing sent).
            BadRequestError: ``"Customer not found"`` (and ``create_if_not_found`` false),
                ``"Multiple lead groups found with this name"``, unknown titles.
        """
        checked = build_lead_upsert(
            customer_phone=customer_phone,
            create_if_not_found=create_if_not_found,
            first_name=first_name,
            last_name=last_name,
            email=email,
            website=website,
            address=address,
            city=city,
            business_name=business_name,
            additional_info=additional_info,
            deal_value=deal_value,
            source=source,
            source_type=source_type,
            assignee_user_phone=assignee_user_phone,
            lead_stage_name=lead_stage_name,
            lead_group_name=lead_group_name,
            add_labels=add_labels,
            remove_labels=remove_labels,
            add_products=add_products,
            add_phones=add_phones,
            customer_note=customer_note,
        )
        kind = RequestKind.CREATE if customer_note is not None else RequestKind.IDEMPOTENT
        response = await self.session.send(
            Request(
                method="POST", path="/enterprise/api/lead", operation="leads.upsert", kind=kind, json=checked.body()
            )
        )
        return structure(self.converter, response.data, Lead, response)

    async def get(self, *, phone: str) -> Lead:
        """The lead with this phone (primary or secondary).

        Source: GET /enterprise/api/lead?phone=  (the ``+`` is sent as ``%2B``)

        Raises:
            ValidationError: ``phone`` is not E.164 (nothing sent).
            NotFoundError: no lead has this phone.
        """
        phone = check_e164("phone", phone)
        response = await self.session.send(
            Request(
                method="GET",
                path="/enterprise/api/lead",
                operation="leads.get",
                kind=RequestKind.READ,
                params={"phone": phone},
            )
        )
        return structure(self.converter, response.data, Lead, response)


@attrs.frozen(kw_only=True)
class Catalog(Resource, Generic[T]):
    """A read-only catalog (source types, labels, stages, groups, products).

    Attributes:
        path: Endpoint path (``/enterprise/api/label``).
        model: Row model.
        name: Short name for logs (``"labels"``).
    """

    path: str
    model: type[T]
    name: str

    async def list(self, *, text: str | None = None, page: int = 1, page_size: int = 50) -> Page[T]:
        """One page of rows, optionally filtered by a case-insensitive substring of ``title``.

        Source: GET {path}?text=&page=&page_size=  (see the attribute on the client)

        Args:
            text: Substring of the title to match.
            page: 1-based page.
            page_size: Rows per page (>= 1; the server documents no maximum).

        Raises:
            ValidationError: ``page`` or ``page_size`` < 1 (nothing sent).
        """
        page = check_int_range("page", page, 1)
        page_size = check_int_range("page_size", page_size, 1)
        response = await self.session.send(
            Request(
                method="GET",
                path=self.path,
                operation=f"{self.name}.list",
                kind=RequestKind.READ,
                params={"text": text, "page": page, "page_size": page_size},
            )
        )
        return structure(self.converter, response.data, Page[self.model], response)  # type: ignore[name-defined]

    def iter(self, *, text: str | None = None, page_size: int = 50, start_page: int = 1) -> PageIterator[T]:
        """Every row, one page request at a time; resumable.

        Source: GET {path}?text=&page=&page_size= (page after page)

        The returned :class:`PageIterator` yields rows (``async for row in it``) or whole pages
        (``it.pages()``); ``it.resume_page`` after each page is the ``start_page`` that resumes
        without missing a row (``None`` when done).

        Args:
            text: Substring of the title to match.
            page_size: Rows per page (>= 1).
            start_page: The page to start from (1-based), e.g. a saved ``resume_page``.

        Raises:
            ValidationError: ``page_size`` or ``start_page`` < 1 (nothing sent).
        """
        page_size = check_int_range("page_size", page_size, 1)

        async def fetch(number: int) -> Page[T]:
            return await self.list(text=text, page=number, page_size=page_size)

        return PageIterator(fetch=fetch, start_page=start_page)
