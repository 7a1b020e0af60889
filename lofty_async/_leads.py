"""Lofty leads: ``/v1.0/leads`` (lofty_api.md §8, seed 003) and ``GET /v1.0/me``."""

from __future__ import annotations

import builtins
import re
from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Unpack, cast

import attrs
import cattrs

from crm_core import (
    HTTPSession,
    Outcome,
    ReconciliationError,
    Request,
    RequestKind,
    ValidationError,
)
from crm_core._decode import envelope_key, structure
from crm_core._options import Transport
from crm_core._pagination import CursorIterator, Page
from crm_core._reconcile import Candidate, send_create_once
from crm_core._resource import CreatingResource
from crm_core._validation import check_choice, check_int_range, check_positive_id, check_text

from ._ids import record_id
from ._lead_models import (
    Lead,
    LeadCreate,
    LeadCreateFields,
    LeadTagRef,
    LeadTransaction,
    LeadUpdate,
    LeadUpdateFields,
    ListMetadata,
    RoutingPreview,
    User,
)

__all__ = [
    "LEAD_SORTS",
    "LEAD_TYPES",
    "AssigneeUser",
    "LeadAssignee",
    "LeadAssignment",
    "LeadIterator",
    "LeadPage",
    "Leads",
    "RoutingRequest",
    "build_assignment",
    "build_lead_query",
    "check_lead_fields",
    "check_tags",
]

LEAD_TYPES: Mapping[int, str] = {
    -1: "Other",
    1: "Seller",
    2: "Buyer",
    5: "Renter",
    6: "Investor",
    7: "Agent",
    8: "Homeowner",
    9: "Landlord",
}
"""Lead type IDs (``leadTypes``)."""
LEAD_SORTS = (
    "Default",
    "LastContact",
    "LastCall",
    "LastEmail",
    "LastActivity",
    "CreateTime",
    "Inquries",
    "DeleteTime",
    "AssignTime",
    "Score",
    "Activity",
    "Communication",
    "HasDrip",
    "HasAlert",
    "Task",
    "Lender",
    "ActivitySearch",
    "ActivityViews",
    "ActivityFavorites",
    "DripStatus",
    "DripOpenRate",
    "AlertFrequency",
    "AlertOpenRate",
    "SCOREV2",
    "SmartPlanStatus",
)
"""Values of ``sort`` on GET /v1.0/leads (``Inquries`` is the API's spelling)."""
_YES_NO = ("Yes", "No")
_TIME_FRAMES = ("1-3", "3-6", "6-12", "12+", "Just Looking", "Refinancing")
_LANGUAGES = ("en", "fr", "de", "es", "zh-CN", "zh-TW", "ja")
_SCOPES = ("TEAM", "OFFICE", "PERSONAL")
_BIRTHDAY = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}$")
_ROLES = ("Agent", "Assistant", "Lender")
_TRANSACTION_TYPES = ("Purchase", "Listing", "Lease", "Other")


@attrs.frozen(kw_only=True, slots=False)
class LeadAssignee:
    """One assignment (schema ``LeadAssigineeRequest``).

    Attributes:
        role: ``Agent``, ``Assistant`` or ``Lender``.
        assignee: The team member's account (their login email), as the API documents.
    """

    role: str
    assignee: str


@attrs.frozen(kw_only=True, slots=False)
class AssigneeUser:
    """One assignee by user ID, as seed 003 sends it: ``{"userId": 10000000514}``."""

    user_id: int


@attrs.frozen(kw_only=True, slots=False)
class LeadAssignment:
    """The assignment body of the lead-management guide (seed 003):
    ``{"assignees": [{"userId": 10000000514}]}``."""

    assignees: list[AssigneeUser]


@attrs.frozen(kw_only=True)
class RoutingRequest:
    """A checked ``POST /v1.0/leads/assignee`` body (schema ``LeadAssigneeCheckRequest``)."""

    first_name: str
    email: str
    last_name: str | None = None
    phone: str | None = None
    birthday: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class LeadPage:
    """One page of GET /v1.0/leads.

    Attributes:
        leads: The leads.
        metadata: Pagination metadata, read from ``_metadata`` (what the API sends) or
            ``get_metadata`` (what its docs show); ``None`` if neither came.
    """

    leads: list[Lead]
    metadata: ListMetadata | None

    @property
    def total(self) -> int | None:
        """Leads matching the filters, when the server says."""
        return None if self.metadata is None else self.metadata.total

    @property
    def scroll_id(self) -> str | None:
        """Cursor for the next page (``scrollId``)."""
        return None if self.metadata is None else self.metadata.scroll_id


class LeadIterator(CursorIterator[Lead, str | None]):
    """Leads from :meth:`Leads.iter`; ``async for`` over it.

    Attributes:
        cursor: The ``scrollId`` to resume from (see :class:`~crm_core.CursorIterator`);
            ``None`` means the first page.
        at_page_end: The lead just yielded was the last of its page (checkpoint now).
        exhausted: Every page has been read.
        pages_fetched: Requests made so far.
    """

    @property
    def scroll_id(self) -> str | None:
        """Where to resume: pass it back as ``leads.iter(..., scroll_id=...)``. Same as :attr:`cursor`."""
        return self.cursor


def _strings(field: str, value: object, *, max_length: int | None = None) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationError(field, value, "a list of strings")
    return [check_text(field, item, max_length=max_length) for item in value]


def check_lead_fields(fields: Mapping[str, Any], *, creating: bool) -> None:
    """Check lead create/update arguments against the spec's documented rules.

    Raises:
        ValidationError: the first bad field.
    """
    if creating:
        check_text("first_name", fields.get("first_name"))
    if fields.get("emails") is not None:
        for email in _strings("emails", fields["emails"]):
            if "@" not in email:
                raise ValidationError("emails", email, "email addresses")
    if fields.get("phones") is not None:
        _strings("phones", fields["phones"], max_length=20)
    if fields.get("lead_types") is not None:
        types = fields["lead_types"]
        if not isinstance(types, Sequence) or any(t not in LEAD_TYPES for t in types):
            allowed = ", ".join(f"{k} ({v})" for k, v in LEAD_TYPES.items())
            raise ValidationError("lead_types", types, f"a list of lead type IDs: {allowed}")
    if fields.get("birthday") is not None and not _BIRTHDAY.match(str(fields["birthday"])):
        raise ValidationError("birthday", fields["birthday"], "'MMM d, yyyy', e.g. 'Jun 5, 2001'")
    for name in (
        "pre_qual",
        "house_to_sell",
        "fthb",
        "with_buyer_agent",
        "mortgage",
        "buy_house",
        "with_listing_agent",
    ):
        if fields.get(name) is not None:
            check_choice(name, fields[name], _YES_NO)
    for name in ("buying_time_frame", "selling_time_frame"):
        if fields.get(name) is not None:
            check_choice(name, fields[name], _TIME_FRAMES)
    if fields.get("language") is not None:
        check_choice("language", fields["language"], _LANGUAGES)
    if fields.get("stage") is not None:
        check_text("stage", fields["stage"], max_length=19)
    if fields.get("assigned_user_id") is not None:
        check_positive_id("assigned_user_id", fields["assigned_user_id"])
    scope = fields.get("ownership_scope")
    if scope is not None:
        check_choice("ownership_scope", scope, _SCOPES)
        if scope in ("OFFICE", "PERSONAL") and fields.get("ownership_id") is None:
            raise ValidationError(
                "ownership_id", None, f"the office or agent ID (required when ownership_scope={scope})"
            )
    family = fields.get("lead_family_member_list")
    if family is not None and len(family) > 4:
        raise ValidationError("lead_family_member_list", len(family), "at most 4 family members")
    transaction = fields.get("lead_transaction")
    if transaction is not None:
        if not isinstance(transaction, LeadTransaction):
            raise ValidationError("lead_transaction", transaction, "a LeadTransaction")
        name = check_text("lead_transaction.transaction_name", transaction.transaction_name)
        if "<" in name or ">" in name:
            raise ValidationError("lead_transaction.transaction_name", name, "text without '<' or '>'")
        if transaction.transaction_type is not None:
            check_choice("lead_transaction.transaction_type", transaction.transaction_type, _TRANSACTION_TYPES)


_TAGS_ALLOWED = (
    "a list of tag names (strings, as the spec documents) or of {'tagName': name} objects (as the guide sends)"
)


def check_tags(field: str, value: object) -> list[str] | list[LeadTagRef]:
    """``tags`` in either documented form, checked element by element before sending.

    Accepts a list of non-blank strings (the OpenAPI spec's ``array<string>``) or a list of
    :class:`LeadTagRef` / ``{"tagName": name}`` mappings (the guide's and seed 003's form).

    Raises:
        ValidationError: not a list, an element of another type (e.g. an integer, which Lofty
            would turn into a new tag name), a blank name, or both forms in one list; the
            field is named with the element's index (``tags[1]``).
    """
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValidationError(field, value, _TAGS_ALLOWED)
    names: list[str] = []
    refs: list[LeadTagRef] = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if isinstance(item, str):
            names.append(check_text(where, item))
        elif isinstance(item, LeadTagRef):
            refs.append(LeadTagRef(tag_name=check_text(f"{where}.tag_name", item.tag_name)))
        elif isinstance(item, Mapping) and set(item) == {"tagName"}:
            refs.append(LeadTagRef(tag_name=check_text(f"{where}.tagName", item["tagName"])))
        else:
            raise ValidationError(where, item, "a tag name (string) or a {'tagName': name} object")
        if names and refs:
            raise ValidationError(field, value, "one form for every tag: all strings, or all {'tagName': name} objects")
    return refs if refs else names


def _build(cls: type[Any], fields: Mapping[str, Any], *, creating: bool) -> Any:
    known = {a.name for a in attrs.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValidationError(unknown[0], fields[unknown[0]], f"a field of {cls.__name__}")
    checked = dict(fields)
    if checked.get("tags") is not None:
        checked["tags"] = check_tags("tags", checked["tags"])
    check_lead_fields(checked, creating=creating)
    return cls(**checked)


def _join(values: Sequence[str] | str | None) -> str | None:
    if values is None:
        return None
    return values if isinstance(values, str) else ",".join(values)


def build_lead_query(
    *,
    assigned_user_id: int | None = None,
    stage: str | None = None,
    source: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    key: str | None = None,
    any_tags: Sequence[str] | None = None,
    all_tags: Sequence[str] | None = None,
    contacted: bool | None = None,
    segments: Sequence[str] | None = None,
    group_ids: int | None = None,
    query_sub_group: bool | None = None,
    languages: Sequence[str] | None = None,
    precise_search: bool | None = None,
    role_assignee_filters: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    scroll_id: str | None = None,
    sort: str | None = None,
    desc: bool | None = None,
) -> dict[str, Any]:
    """Check GET /v1.0/leads filters (see :meth:`Leads.list`); return the query parameters.

    Raises:
        ValidationError: ``limit`` outside 1..100, bad ``sort``, ``offset`` or user ID.
    """
    if limit is not None:
        check_int_range("limit", limit, 1, 100)
    if offset is not None:
        check_int_range("offset", offset, 0)
    if sort is not None:
        check_choice("sort", sort, LEAD_SORTS)
    if assigned_user_id is not None:
        check_positive_id("assigned_user_id", assigned_user_id)
    params = {
        "assignedUserId": assigned_user_id,
        "stage": stage,
        "source": source,
        "email": email,
        "phone": phone,
        "key": key,
        "anyTags": _join(any_tags),
        "allTags": _join(all_tags),
        "contacted": contacted,
        "segments": _join(segments),
        "groupIds": group_ids,
        "querySubGroup": query_sub_group,
        "languages": _join(languages),
        "preciseSearchFlag": precise_search,
        "roleAssigneeFilters": role_assignee_filters,
        "limit": limit,
        "offset": offset,
        "scrollId": scroll_id,
        "sort": sort,
        "desc": desc,
    }
    return params


def build_assignment(
    assignees: Sequence[LeadAssignee | str] | None = None, *, user_ids: Sequence[int] | None = None
) -> LeadAssignment | list[LeadAssignee]:
    """Check :meth:`Leads.assign` arguments; return the body model of the form asked for.

    Raises:
        ValidationError: both or neither form, an empty list, a bad role, account or user ID.
    """
    if user_ids is not None:
        if assignees is not None:
            raise ValidationError("user_ids", user_ids, "either user_ids or assignees, not both")
        if isinstance(user_ids, str | bytes) or not isinstance(user_ids, Sequence) or not user_ids:
            raise ValidationError("user_ids", user_ids, "a non-empty list of user IDs")
        users = [AssigneeUser(user_id=check_positive_id(f"user_ids[{i}]", u)) for i, u in enumerate(user_ids)]
        return LeadAssignment(assignees=users)
    if isinstance(assignees, str) or not assignees:
        raise ValidationError(
            "assignees", assignees, "a non-empty list of LeadAssignee or account emails (or pass user_ids=)"
        )
    entries: list[LeadAssignee] = []
    for item in assignees:
        entry = LeadAssignee(role="Agent", assignee=item) if isinstance(item, str) else item
        check_choice("assignees.role", entry.role, _ROLES)
        check_text("assignees.assignee", entry.assignee)
        entries.append(entry)
    return entries


@attrs.frozen(kw_only=True)
class Leads(CreatingResource):
    """Lofty leads. Reach it as ``client.leads``."""

    async def create(self, *, dedupe_key: str | None = None, **fields: Unpack[LeadCreateFields]) -> int:
        """Create a lead; return its ``leadId``.

        Source: POST /v1.0/leads  (answers ``{"leadId": n}``)

        Keyword arguments are the fields of :class:`~lofty_async.LeadCreate` (the spec's
        ``LeadRequest``): ``first_name`` (required), ``last_name``, ``emails``, ``phones``,
        ``lead_types``, ``source``, ``assigned_user_id`` (omit to let routing assign), ``stage``,
        ``tags``, ``inquiry``, ``property``, ``lead_transaction``, ... Only what is given is sent.

        The lead may not be readable at once: Lofty documents that GET may briefly 404 after
        create. After an ambiguous failure the lead is looked up by its first email (precise)
        or phone; with neither, :class:`~crm_core.ReconciliationError` is raised rather than
        risking a duplicate.

        Raises:
            ValidationError: a bad field (nothing sent).
            BadRequestError: refused by Lofty (e.g. ``20012 INVALID_PARAMETER``).
            ReconciliationError: the create may have landed and the lookup could not tell.
        """
        payload: LeadCreate = _build(LeadCreate, fields, creating=True)
        body = self.converter.unstructure(payload)
        request = Request(
            method="POST", path="/v1.0/leads", operation="leads.create", kind=RequestKind.CREATE, json=body
        )
        sent_at = datetime.now(UTC)

        async def lookup() -> builtins.list[Candidate[Hashable, int]]:
            if payload.emails:
                page = await self.list(email=payload.emails[0], precise_search=True, limit=100)
            elif payload.phones:
                page = await self.list(phone=payload.phones[0], precise_search=True, limit=100)
            else:
                raise ReconciliationError(
                    "A lead without emails or phones cannot be looked up",
                    method="POST",
                    url=self.session.url_for(request),
                    outcome=Outcome.MAYBE_PROCESSED,
                )
            return [
                Candidate(id=lead.lead_id, created_at=lead.create_time, value=lead.lead_id)
                for lead in page.leads
                if lead.lead_id is not None and lead.first_name == payload.first_name
            ]

        async def known(lead_id: Hashable) -> int:
            return int(str(lead_id))

        return await send_create_once(
            cast(HTTPSession, self.session),  # duck-typed: send, emit, url_for
            request,
            decode=lambda response: record_id(response, "leadId"),
            lookup=lookup,
            id_of=lambda lead_id: lead_id,
            ledger=self.ledger,
            settings=self.reconcile,
            sent_at=sent_at,
            dedupe_key=dedupe_key,
            known=known,
        )

    async def get(self, lead_id: int, *, with_trash: bool = False) -> Lead:
        """Fetch one lead.

        Source: GET /v1.0/leads/{leadId}  (the API wraps it as ``{"lead": {...}}``; a bare
        object, as the spec's schema shows, is accepted too)

        Args:
            lead_id: The lead's ID.
            with_trash: Also find leads moved to the trash.

        Raises:
            ValidationError: bad ``lead_id`` (nothing sent).
            NotFoundError: no such lead (``20006 LEAD_NOT_EXIST``); right after a create this
                can happen for a short while (eventual consistency).
        """
        lead_id = check_positive_id("lead_id", lead_id)
        response = await self.session.send(
            Request(
                method="GET",
                path=f"/v1.0/leads/{lead_id}",
                operation="leads.get",
                kind=RequestKind.READ,
                params={"withTrash": True if with_trash else None},
            )
        )
        data = response.data
        if isinstance(data, dict) and isinstance(data.get("lead"), dict):
            data = data["lead"]
        return structure(self.converter, data, Lead, response)

    async def list(
        self,
        *,
        assigned_user_id: int | None = None,
        stage: str | None = None,
        source: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        key: str | None = None,
        any_tags: Sequence[str] | None = None,
        all_tags: Sequence[str] | None = None,
        contacted: bool | None = None,
        segments: Sequence[str] | None = None,
        group_ids: int | None = None,
        query_sub_group: bool | None = None,
        languages: Sequence[str] | None = None,
        precise_search: bool | None = None,
        role_assignee_filters: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        scroll_id: str | None = None,
        sort: str | None = None,
        desc: bool | None = None,
    ) -> LeadPage:
        """One page of leads matching every given filter (AND).

        Source: GET /v1.0/leads

        Args:
            assigned_user_id: Leads assigned to this user.
            stage: Pipeline stage name.
            source: Source name.
            email: Email (exact with ``precise_search``).
            phone: Phone digits, e.g. ``"3479033333"`` (exact with ``precise_search``).
            key: Fuzzy search over name, phone and email.
            any_tags: Leads with any of these tag names (sent comma-separated).
            all_tags: Leads with all of these tag names (sent comma-separated).
            contacted: Contacted or not.
            segments: Segment names (sent comma-separated).
            group_ids: Office ID.
            query_sub_group: Include sub-offices.
            languages: Language abbreviations (sent comma-separated).
            precise_search: Exact match on ``email``/``phone`` (``preciseSearchFlag``).
            role_assignee_filters: JSON text ``[{"roleName": ..., "assigneeToIds": [...]}]``.
            limit: Page size, 1 to 100.
            offset: Start index (0-based).
            scroll_id: Cursor from a previous page (see :meth:`iter`).
            sort: One of :data:`LEAD_SORTS`.
            desc: Descending order.

        Raises:
            ValidationError: ``limit`` outside 1..100, bad ``sort`` or ``offset`` (nothing sent).
            BadRequestError: refused by Lofty (``LIMIT_NOT_VALID``).
        """
        params = build_lead_query(
            assigned_user_id=assigned_user_id,
            stage=stage,
            source=source,
            email=email,
            phone=phone,
            key=key,
            any_tags=any_tags,
            all_tags=all_tags,
            contacted=contacted,
            segments=segments,
            group_ids=group_ids,
            query_sub_group=query_sub_group,
            languages=languages,
            precise_search=precise_search,
            role_assignee_filters=role_assignee_filters,
            limit=limit,
            offset=offset,
            scroll_id=scroll_id,
            sort=sort,
            desc=desc,
        )
        response = await self.session.send(
            Request(method="GET", path="/v1.0/leads", operation="leads.list", kind=RequestKind.READ, params=params)
        )
        data = response.data if isinstance(response.data, dict) else {}
        leads = structure(self.converter, envelope_key(response, "leads"), builtins.list[Lead], response)
        raw_meta = data.get("_metadata", data.get("get_metadata"))
        metadata = None if raw_meta is None else structure(self.converter, raw_meta, ListMetadata, response)
        return LeadPage(leads=leads, metadata=metadata)

    def iter(self, *, page_size: int = 100, scroll_id: str | None = None, **filters: Any) -> LeadIterator:
        """Every lead matching the filters, following the ``scrollId`` cursor; resumable.

        Source: GET /v1.0/leads (first page with the filters, then ``scrollId`` of each page)

        Example (a sync worker that checkpoints)::

            leads = lofty.leads.iter(page_size=100, scroll_id=load_checkpoint())
            async for lead in leads:
                await handle(lead)                 # idempotent: a page may be seen twice
                if leads.at_page_end:
                    save_checkpoint(leads.scroll_id)

        Args:
            page_size: Leads per request, 1 to 100.
            scroll_id: Resume from a saved :attr:`LeadIterator.scroll_id` (``None``: from the
                first page). How long Lofty keeps a ``scrollId`` valid is not documented
                (lofty_api.md [GAP]); an expired one is answered as the server decides.
            filters: Any :meth:`list` filter except ``limit`` and ``offset``.

        Returns:
            A :class:`LeadIterator` (``async for``); its ``scroll_id`` is where to resume.

        Raises:
            ValidationError: ``limit``/``offset`` given, or a bad ``page_size`` (at the call,
                nothing sent).
        """
        for reserved in ("limit", "offset"):
            if reserved in filters:
                raise ValidationError(reserved, filters[reserved], "not set: iter() pages by itself")
        check_int_range("page_size", page_size, 1, 100)
        if scroll_id is not None:
            check_text("scroll_id", scroll_id)
        seen = 0

        async def fetch(cursor: str | None) -> Page[Lead, str | None]:
            nonlocal seen
            page = await self.list(limit=page_size, scroll_id=cursor, **filters)
            seen += len(page.leads)
            has_more = (
                bool(page.leads) and page.scroll_id is not None and not (page.total is not None and seen >= page.total)
            )
            return Page(items=page.leads, cursor=cursor, next_cursor=page.scroll_id, has_more=has_more)

        return LeadIterator(fetch, scroll_id)

    async def update(self, lead_id: int, **fields: Unpack[LeadUpdateFields]) -> int:
        """Change a lead; only the fields given are sent.

        Source: PUT /v1.0/leads/{leadId}  (answers ``{"leadId": n}``)

        ``tags`` replaces every tag (use ``tags_add``/``tags_remove`` to change some);
        ``clear_all_tags=True`` removes them all.

        Raises:
            ValidationError: nothing to change, or a bad field (nothing sent).
            NotFoundError: no such lead.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        if not any(value is not None for value in fields.values()):
            raise ValidationError("update", {}, "at least one field of LeadUpdate")
        payload: LeadUpdate = _build(LeadUpdate, fields, creating=False)
        response = await self.session.send(
            Request(
                method="PUT",
                path=f"/v1.0/leads/{lead_id}",
                operation="leads.update",
                kind=RequestKind.IDEMPOTENT,
                json=self.converter.unstructure(payload),
            )
        )
        return record_id(response, "leadId")

    async def assign(
        self,
        lead_id: int,
        assignees: Sequence[LeadAssignee | str] | None = None,
        *,
        user_ids: Sequence[int] | None = None,
    ) -> int:
        """Assign a lead to team members, by user ID or by role and account.

        Source: POST /v1.0/leads/{leadId}/assignment  (answers ``{"leadId": n}``)

        Two body forms are documented, and each is sent exactly as its source shows:

        * ``user_ids=[10000000514]`` sends ``{"assignees": [{"userId": 10000000514}]}``: the
          form of Lofty's lead-management guide (seed 003).
        * ``assignees=[LeadAssignee(role="Agent", assignee="info@lofty-mail.me")]`` sends
          ``[{"role": "Agent", "assignee": "info@lofty-mail.me"}]``: the OpenAPI spec's form
          (schema ``LeadAssigineeRequest``), which names members by account (login email).

        Args:
            lead_id: The lead's ID.
            assignees: Spec form: :class:`LeadAssignee` items, or plain strings meaning
                ``LeadAssignee(role="Agent", assignee=<account>)``.
            user_ids: Guide form: team members' user IDs (``User.member_user_id``).

        Raises:
            ValidationError: both or neither of ``assignees`` and ``user_ids``, an empty list,
                a bad role, account or user ID (nothing sent).
            APIResponseValidationError: a 2xx without a usable ``leadId``.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        body = self.converter.unstructure(build_assignment(assignees, user_ids=user_ids))
        response = await self.session.send(
            Request(
                method="POST",
                path=f"/v1.0/leads/{lead_id}/assignment",
                operation="leads.assign",
                kind=RequestKind.IDEMPOTENT,
                json=body,
            )
        )
        return record_id(response, "leadId")

    async def delete(self, lead_id: int, *, reason: str) -> None:
        """Move a lead to the trash (there is no restore endpoint).

        Source: DELETE /v1.0/leads/{leadId}?reason=

        Args:
            lead_id: The lead's ID.
            reason: Why, stored for audit (required by Lofty).

        Raises:
            ValidationError: no ``reason`` (nothing sent).
            NotFoundError: no such lead.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        reason = check_text("reason", reason)
        await self.session.send(
            Request(
                method="DELETE",
                path=f"/v1.0/leads/{lead_id}",
                operation="leads.delete",
                kind=RequestKind.IDEMPOTENT,
                params={"reason": reason},
            )
        )

    async def preview_routing(
        self,
        *,
        first_name: str,
        email: str,
        last_name: str | None = None,
        phone: str | None = None,
        birthday: str | None = None,
    ) -> builtins.list[RoutingPreview]:
        """Who routing would assign a lead like this to, without creating it.

        Source: POST /v1.0/leads/assignee

        Raises:
            ValidationError: missing ``first_name``/``email``, bad ``birthday`` (nothing sent).
        """
        check_text("email", email)
        if "@" not in email:
            raise ValidationError("email", email, "an email address")
        if birthday is not None:
            check_lead_fields({"birthday": birthday}, creating=False)
        body = RoutingRequest(
            first_name=check_text("first_name", first_name),
            email=email,
            last_name=None if last_name is None else check_text("last_name", last_name),
            phone=None if phone is None else check_text("phone", phone, max_length=20),
            birthday=birthday,
        )
        response = await self.session.send(
            Request(
                method="POST",
                path="/v1.0/leads/assignee",
                operation="leads.preview_routing",
                kind=RequestKind.READ,
                json=self.converter.unstructure(body),
            )
        )
        return structure(self.converter, response.data, builtins.list[RoutingPreview], response)


async def get_me(http: Transport, converter: cattrs.Converter) -> User:
    """GET /v1.0/me: the authenticated team member."""
    response = await http.send(Request(method="GET", path="/v1.0/me", operation="me", kind=RequestKind.READ))
    return structure(converter, response.data, User, response)
