"""Superfone leads and catalogs (superfone_api.md §3, §5)."""

from __future__ import annotations

import builtins
import enum
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, Generic, TypeVar

import cattrs

from crm_core import HTTPSession, Request, RequestKind, ValidationError
from crm_core._decode import structure
from crm_core._pagination import iter_pages
from crm_core._validation import check_int_range, check_text

from ._models import Address, Lead, Page

__all__ = ["UNSET", "Catalog", "Leads", "build_lead_upsert", "check_e164"]

T = TypeVar("T")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset.UNSET
"""Default of the nullable upsert fields: not sent (``None`` sends ``null``, which clears)."""


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
) -> dict[str, Any]:
    """Check upsert arguments and build the JSON body (only what is given). Nothing is sent.

    Raises:
        ValidationError: a bad field, or ``add_labels`` together with ``remove_labels``.
    """
    body: dict[str, Any] = {"customer_phone": check_e164("customer_phone", customer_phone)}
    if create_if_not_found:
        body["create_customer_if_customer_phone_not_found"] = True
    if add_labels is not None and remove_labels is not None:
        raise ValidationError("remove_labels", list(remove_labels), "not together with add_labels (send two upserts)")
    for name, text in (
        ("first_name", first_name),
        ("last_name", last_name),
        ("website", website),
        ("city", city),
        ("business_name", business_name),
        ("additional_info", additional_info),
        ("source", source),
        ("source_type", source_type),
        ("customer_note", customer_note),
    ):
        if text is not None:
            body[name] = check_text(name, text)
    if email is not None:
        body["email"] = _strings("email", email)
    if address is not None:
        if not isinstance(address, Address):
            raise ValidationError("address", address, "an Address(text=..., ...)")
        body["address"] = {
            k: v
            for k, v in {
                "text": address.text,
                "additional": address.additional,
                "initials": address.initials,
                "latitude": address.latitude,
                "longitude": address.longitude,
            }.items()
            if v is not None
        }
    if deal_value is not None:
        if isinstance(deal_value, bool) or not isinstance(deal_value, int | float) or deal_value < 0:
            raise ValidationError("deal_value", deal_value, "a number >= 0")
        body["deal_value"] = deal_value
    if assignee_user_phone is not UNSET:
        body["assignee_user_phone"] = (
            None if assignee_user_phone is None else check_e164("assignee_user_phone", assignee_user_phone)
        )
    for name, value in (("lead_stage_name", lead_stage_name), ("lead_group_name", lead_group_name)):
        if value is not UNSET:
            body[name] = None if value is None else check_text(name, value)
    for name, items in (("add_labels", add_labels), ("remove_labels", remove_labels), ("add_products", add_products)):
        if items is not None:
            body[name] = _strings(name, items)
    if add_phones is not None:
        body["add_phones"] = [check_e164("add_phones", p) for p in _strings("add_phones", add_phones)]
    return body


class Leads:
    """Superfone leads. Reach it as ``client.leads``."""

    def __init__(self, http: HTTPSession, converter: cattrs.Converter) -> None:
        self._http = http
        self._converter = converter

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
        body = build_lead_upsert(
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
        response = await self._http.send(
            Request(method="POST", path="/enterprise/api/lead", operation="leads.upsert", kind=kind, json=body)
        )
        return structure(self._converter, response.data, Lead, response)

    async def get(self, *, phone: str) -> Lead:
        """The lead with this phone (primary or secondary).

        Source: GET /enterprise/api/lead?phone=  (the ``+`` is sent as ``%2B``)

        Raises:
            ValidationError: ``phone`` is not E.164 (nothing sent).
            NotFoundError: no lead has this phone.
        """
        phone = check_e164("phone", phone)
        response = await self._http.send(
            Request(
                method="GET",
                path="/enterprise/api/lead",
                operation="leads.get",
                kind=RequestKind.READ,
                params={"phone": phone},
            )
        )
        return structure(self._converter, response.data, Lead, response)


class Catalog(Generic[T]):
    """A read-only catalog (source types, labels, stages, groups, products).

    Args:
        http: The session.
        converter: The converter.
        path: Endpoint path (``/enterprise/api/label``).
        model: Row model.
        name: Short name for logs (``"labels"``).
    """

    def __init__(self, http: HTTPSession, converter: cattrs.Converter, *, path: str, model: type[T], name: str) -> None:
        self._http = http
        self._converter = converter
        self._path = path
        self._model = model
        self._name = name

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
        response = await self._http.send(
            Request(
                method="GET",
                path=self._path,
                operation=f"{self._name}.list",
                kind=RequestKind.READ,
                params={"text": text, "page": page, "page_size": page_size},
            )
        )
        return structure(self._converter, response.data, Page[self._model], response)  # type: ignore[name-defined]

    async def iter(self, *, text: str | None = None, page_size: int = 50) -> AsyncIterator[T]:
        """Every row, fetching pages as needed. Source: GET {path} (all pages)."""

        async def fetch(number: int) -> tuple[builtins.list[T], bool]:
            page = await self.list(text=text, page=number, page_size=page_size)
            return page.rows, page.current_page < page.total_pages

        async for row in iter_pages(fetch):
            yield row
