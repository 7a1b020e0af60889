"""Lofty lead, user and routing models, generated from Lofty's OpenAPI spec and reviewed.

Field names are the spec's camelCase names in snake_case (the converter maps them back); every
field is optional unless the spec requires it. Timestamps are timezone-aware; lead timestamps
arrive as ``"2026-04-30T17:33:32GMT"`` and are read as UTC; transaction dates travel as epoch
milliseconds. ``tests/lofty/test_spec_conformance.py`` checks these classes against the spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypedDict

import attrs

from crm_core._converter import WireModel

__all__ = [
    "AgentInfo",
    "Commission",
    "Commissions",
    "CustomAttribute",
    "CustomFieldValue",
    "CustomRole",
    "CustomRoleAssignee",
    "Lead",
    "LeadCreate",
    "LeadCreateFields",
    "LeadFamilyMember",
    "LeadInquiry",
    "LeadProperty",
    "LeadTag",
    "LeadTagRef",
    "LeadTransaction",
    "LeadUpdate",
    "LeadUpdateFields",
    "ListMetadata",
    "Location",
    "Office",
    "RoutingPreview",
    "User",
]


@attrs.frozen(kw_only=True, slots=False)
class LeadTag(WireModel):
    """A tag on a lead (schema ``UserLeadTagVo``)."""

    lead_id: int | None = None
    tag_id: int | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    tag_name: str | None = None
    creator_user_id: int | None = None
    visible_type: int | None = None


@attrs.frozen(kw_only=True, slots=False)
class LeadTagRef:
    """A tag named in a request's ``tags`` as an object: ``{"tagName": "follow-up"}``.

    Lofty's lead-management guide and concepts page send tags this way (seed 003's update);
    the OpenAPI spec documents ``tags`` as an array of strings. Both forms are accepted: pass
    ``tags=["follow-up"]`` (spec) or ``tags=[LeadTagRef(tag_name="follow-up")]`` /
    ``tags=[{"tagName": "follow-up"}]`` (guide), not both in one list.
    """

    tag_name: str


@attrs.frozen(kw_only=True, slots=False)
class Location(WireModel):
    """An area a lead is interested in (schema ``Location``)."""

    state_code: str | None = None
    """The state code of city Applies to lead routing if the leadType field is not Seller(1) in the lead creation request."""
    city: str | None = None
    """The city Applies to lead routing if the leadType field is not Seller(1) in the lead creation request."""
    zip_code: str | None = None
    """The zip code Applies to lead routing if the leadType field is not Seller(1) in the lead creation request."""
    county: str | None = None
    """The county Applies to lead routing if the leadType field is not Seller(1) in the lead creation request."""
    street_address: str | None = None
    """The street address Applies to lead routing if the leadType field is not Seller(1) in the lead creation request."""
    description: str | None = None
    """Description of location."""


@attrs.frozen(kw_only=True, slots=False)
class LeadInquiry(WireModel):
    """What a lead is looking for (schema ``LeadInquiry``)."""

    price_min: int | None = None
    """Price range lower end"""
    price_max: int | None = None
    """Price range higher end"""
    property_type: list[str] | None = None
    """Property types: `Single Family Home`, `Multi-Family`, `Condo`, `Townhouse`, `Mobile Home`, `Manufactured Home`, `Vacant Land`, `Commercial`."""
    bedrooms_min: int | None = None
    """Bed Rooms"""
    bathrooms_min: str | None = None
    """Bath Rooms"""
    locations: list[Location] | None = None
    """Areas the lead is interested in. Each entry is a Location object (city, stateCode, zipCode, county, streetAddress or description). Used by routing rules when the lead's leadTypes do not include Seller (1)."""
    id: int | None = None
    lead_user_id: int | None = None
    bedrooms_max: int | None = None
    bathrooms_max: str | None = None
    modify_by_agent: bool | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    default_value: bool | None = None


@attrs.frozen(kw_only=True, slots=False)
class LeadProperty(WireModel):
    """A property or mailing address of a lead (schema ``LeadProperty``); prices in dollars."""

    price: int | None = None
    """The price Applies to lead routing only if the leadType field is Seller(1)"""
    state: str | None = None
    """The state Applies to lead routing only if the leadType field is Seller(1)"""
    city: str | None = None
    """The city Applies to lead routing only if the leadType field is Seller(1)"""
    street_address: str | None = None
    """The street address Applies to lead routing only if the leadType field is Seller(1)"""
    zip_code: str | None = None
    """The zip code Applies to lead routing only if the leadType field is Seller(1)"""
    county: str | None = None
    """The county Applies to lead routing only if the leadType field is Seller(1)"""
    property_type: str | None = None
    """Property type: `Single Family Home`, `Multi-Family`, `Condo`, `Townhouse`, `Mobile Home`, `Manufactured Home`, `Vacant Land`, `Commercial`."""
    bedrooms: int | None = None
    """The bed rooms."""
    bathrooms: float | None = None
    """The bath rooms."""
    square_feet: int | None = None
    """The square feet."""
    lot_size: float | None = None
    """The lot size (acreage)."""
    parking_space: int | None = None
    """The parking space."""
    floors: int | None = None
    """The floors."""
    mail_address: bool | None = None
    """If set to true, the address is a mailing address; otherwise, it is a property address."""
    id: int | None = None
    """The property ID. Required when updating an existing mailing address or property address. If not provided, a new address will be created."""
    lead_user_id: int | None = None
    listing_id: str | None = None
    auto_listing_id: int | None = None
    label: str | None = None
    note: str | None = None
    listing_status: str | None = None
    label_list: str | None = None
    picture_url: str | None = None
    site_listing_url: str | None = None
    label_type: str | None = None
    price_max: int | None = None
    """The max price Applies to lead routing only if the leadType field is Seller(1)"""
    price_min: int | None = None
    """The min price Applies to lead routing only if the leadType field is Seller(1)"""


@attrs.frozen(kw_only=True, slots=False)
class CustomAttribute(WireModel):
    """A custom field value (schema ``CustomAttribute``)."""

    attribute_name: str
    """The name of this custom field"""
    attribute_type: str
    """The type of the field"""
    value: str
    """The content of the field for lead, value for multi-select,such as "[\\"item1\\",\\"item2\\s",...]" .It's unnecessary when adding a new custom field for team"""
    params: str | None = None
    """options for select, such as {"option":["item1","item2",...]}"""


@attrs.frozen(kw_only=True, slots=False)
class LeadFamilyMember(WireModel):
    """A family member of a lead (schema ``LeadFamilyMember``); birthday as ``"MMM d, yyyy"``."""

    relationship: str | None = None
    """The relationship of this family member to primary lead. Example: Husband"""
    first_name: str
    """The first name of the family member"""
    last_name: str | None = None
    """The last name of the family member"""
    phones: list[str] | None = None
    """A list of phone numbers associated with the family member. (No more than 20 characters per phone)"""
    emails: list[str] | None = None
    """A list of email addresses associated with the lead"""
    birthday: str | None = None
    """The birthday of the family member(pattern:MMM d, yyyy)"""


@attrs.frozen(kw_only=True, slots=False)
class CustomRole(WireModel):
    """A custom role assignment on a lead (schema ``CustomRole``)."""

    role_id: int
    """The ID of this custom role"""
    role: str
    """The name of this custom role"""
    assignee_id: int | None = None
    """The user id of this custom role"""
    assignee: str | None = None
    """The user account of this custom role"""


@attrs.frozen(kw_only=True, slots=False)
class CustomFieldValue(WireModel):
    """A transaction custom field value (schema ``CustomFieldRequest``)."""

    id: int | None = None
    """Custom field id"""
    value: str | None = None
    """Custom field value For multi_select, the format is:["Item1","Item2", ...]"""


@attrs.frozen(kw_only=True, slots=False)
class Commission(WireModel):
    """One commission line (schema ``Commission``)."""

    id: int | None = None
    split_pay_type: str | None = None
    split_pay_to: int | None = None
    split_pay_to_name: str | None = None
    pay_type: str | None = None
    pay_to: int | None = None
    pay_to_name: str | None = None
    value: int | None = None
    calculate_type: str | None = None
    desc: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class Commissions(WireModel):
    """A commission structure (schema ``Commissions``)."""

    pre_split: list[Commission] | None = None
    split: list[Commission] | None = None
    post_split: list[Commission] | None = None


@attrs.frozen(kw_only=True, slots=False)
class LeadTransaction(WireModel):
    """A transaction (deal) of a lead (schema ``LeadTransaction``); dates are aware datetimes, sent as epoch milliseconds."""

    created: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Transaction creation timestamp, in milliseconds since Unix epoch (UTC). Do not supply on create."""
    updated: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Transaction last-modified timestamp, in milliseconds since Unix epoch (UTC). Do not supply on create or update."""
    transaction_id: int | None = None
    """Transaction ID. Do not supply on create."""
    transaction_name: str
    """Property address or deal name. Required on create. Must not be blank and must not contain '<' or '>' characters."""
    lead_name: str | None = None
    """Name of the lead this transaction belongs to. Ignored if supplied in a request body."""
    assigned_agent: int | None = None
    """User ID of the agent this transaction is assigned to. Ignored if supplied in a request body."""
    transaction_type: str | None = None
    """Transaction type. Case-sensitive; must be one of the supported values. Values not matching the team's configured pipeline types fall back silently to the first pipeline (typically 'Purchase / Pre-contract'); always pass a valid type to avoid this silent behavior."""
    home_price: float | None = None
    """Home price of the transaction."""
    transaction_status: str | None = None
    """Transaction status name. Must match one of the statuses configured in the team's pipeline for the given transactionType; unmatched values silently fall back to the first status of that type."""
    expected_close_date: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Expected close date, in milliseconds since Unix epoch (UTC)."""
    close_date: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Actual close date, in milliseconds since Unix epoch (UTC)."""
    commission_rate: float | None = None
    """Commission rate, expressed as a percentage (e.g. 3 for 3%)."""
    gci: float | None = None
    """Gross Commission Income (GCI) of the transaction."""
    team_revenue: float | None = None
    """Portion of the GCI attributed to the team."""
    agent_revenue: float | None = None
    """Portion of the GCI attributed to the agent."""
    appointment_date: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Appointment date, in milliseconds since Unix epoch (UTC)."""
    agreement_signed_date: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Agreement-signed date, in milliseconds since Unix epoch (UTC)."""
    offer_date: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Offer date, in milliseconds since Unix epoch (UTC)."""
    contract_date: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Contract date, in milliseconds since Unix epoch (UTC)."""
    appraisal_date: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Appraisal date, in milliseconds since Unix epoch (UTC)."""
    home_inspection_date: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Home-inspection date, in milliseconds since Unix epoch (UTC)."""
    escrow_date: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Escrow date, in milliseconds since Unix epoch (UTC)."""
    expiration: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Expiration date (listing / contract), in milliseconds since Unix epoch (UTC)."""
    custom_fields: list[CustomFieldValue] | None = None
    """Custom field values; full-coverage update or insertion. See GET /v1.0/transaction/customfields for the team's custom field definitions."""
    commissions: Commissions | None = None


@attrs.frozen(kw_only=True, slots=False)
class Lead(WireModel):
    """A lead (schema ``LeadResponse``). Source: GET /v1.0/leads/{leadId}, GET /v1.0/leads. Timestamps are aware (Lofty sends ``...GMT``, read as UTC); ``birthday`` is ``"MMM d, yyyy"``."""

    cannot_text: bool | None = None
    """false: can send message to the lead"""
    cannot_call: bool | None = None
    """false: can call to the lead"""
    cannot_email: bool | None = None
    """false: can email to the lead"""
    lead_id: int | None = None
    """The Id of the lead"""
    lead_user_id: int | None = None
    """The user Id of the lead"""
    first_name: str | None = None
    """The first/given name of the lead"""
    last_name: str | None = None
    """The last/family name of the lead"""
    birthday: str | None = None
    """The birthday of the lead"""
    emails: list[str] | None = None
    """The email list of the lead"""
    phones: list[str] | None = None
    """The phone list of the lead"""
    lead_source: int | None = None
    """The leadSource(Id) about the lead"""
    source: str | None = None
    """The source of the lead"""
    stage_id: int | None = None
    """The stageId of the lead"""
    stage: str | None = None
    """The stage of the lead"""
    assigned_user_id: int | None = None
    """The user Id of the lead assigned to"""
    assigned_user: str | None = None
    """The Username of the lead assigned to"""
    lender_user_id: int | None = None
    """The user Id of the lead's lender"""
    score: int | None = None
    """The score of the lead"""
    tags: list[LeadTag] | None = None
    """The tags of the lead"""
    team_id: int | None = None
    """The teamId of the lead's team"""
    street_address: str | None = None
    """The streetAddress associated with the lead. Deprecated: please use the streetAddress field in leadPropertyList instead."""
    city: str | None = None
    """The city associated with the lead. Deprecated: please use the city field in leadPropertyList instead."""
    state: str | None = None
    """The state associated with the lead. Deprecated: please use the state field in leadPropertyList instead."""
    zip_code: str | None = None
    """The zip code associated with the lead. Deprecated: please use the zipCode field in leadPropertyList instead."""
    create_time: datetime | None = None
    """The create time of the lead"""
    assign_time: datetime | None = None
    """The assigned time of the lead"""
    facebook: str | None = None
    """The Facebook account of the lead"""
    twitter: str | None = None
    """The Twitter account of the lead"""
    hidden_flag: bool | None = None
    """The lead is hidden or not"""
    referred_by: str | None = None
    """The referee of the lead"""
    lead_inquiry: LeadInquiry | None = None
    lead_property_list: list[LeadProperty] | None = None
    """LeadPropertyList"""
    custom_attributes: list[CustomAttribute] | None = None
    """User customized field"""
    last_update_time: datetime | None = None
    """The update time of the lead"""
    groups: list[str] | None = None
    """The groups that the lead in. Deprecated, use segments instead."""
    segments: list[str] | None = None
    """The segments that the lead in"""
    unsubscription: bool | None = None
    """Unsubscription the email"""
    lead_types: list[int] | None = None
    """Types of lead, expressed by ID. Type ID : Other (-1), Seller (1), Buyer (2), Renter (5), Investor (6), Agent (7), Homeowner (8), Landlord (9)"""
    last_touch: datetime | None = None
    """The last touch time of the lead"""
    last_visit: datetime | None = None
    """The last visit time of the lead"""
    phone_statuses: list[int] | None = None
    """The status of the phone number Type id: invaild number(1), vaild number(2), talked(3), DNC Number(4), DNC Contact(5)"""
    assign_completion_status: bool | None = None
    """Whether complete all lead assign process"""
    buying_time_frame: str | None = None
    """buying time frame, `1-3`, `3-6`, `6-12`, `12+`, `Just Looking`, `Refinancing`."""
    pre_qual: str | None = None
    """Pre-qual, `Yes` or `No`"""
    house_to_sell: str | None = None
    """House to Sell, `Yes` or `No`"""
    fthb: str | None = None
    """first time home buyer, `Yes` or `No`"""
    with_buyer_agent: str | None = None
    """With buyer Agent, `Yes` or `No`"""
    selling_time_frame: str | None = None
    """selling time frame, `1-3`, `3-6`, `6-12`, `12+`, `Just Looking`, `Refinancing`."""
    mortgage: str | None = None
    """Mortgage, `Yes` or `No`."""
    buy_house: str | None = None
    """Buy a house, `Yes` or `No`."""
    with_listing_agent: str | None = None
    """With listing agent, `Yes` or `No`."""
    opportunity: str | None = None
    """The lead's current opportunity type, derived from on-platform lead scoring. One of: "High Interest", "Sell", "Back to Site", "Back on Market". Null when the lead has no active opportunity."""
    lead_family_member_list: list[LeadFamilyMember] | None = None
    """A list of family members associated with the lead"""
    pond_id: int | None = None
    """The Id of the lead's pond"""
    pond_name: str | None = None
    """The Name of the lead's pond"""
    custom_role_list: list[CustomRole] | None = None
    language: str | None = None
    """The language of the lead"""
    ownership_id: int | None = None
    """The entity ID associated with `ownershipScope`: the office ID when scope is `OFFICE`, or the agent's user ID when scope is `PERSONAL`. Not applicable when scope is `TEAM`."""
    ownership_scope: str | None = None
    """The visibility scope of the lead. `TEAM` — Account-wide: visible to all users in this Lofty client account. `OFFICE` — visible only within a specific office. `PERSONAL` — visible only to a single agent. Note: `TEAM` refers to the entire client account (the organization), not the Lofty "Team add-o..."""


@attrs.frozen(kw_only=True, slots=False)
class ListMetadata(WireModel):
    """Lead-list pagination metadata (``_metadata``, documented as ``get_metadata``)."""

    collection: str | None = None
    """The element of the array"""
    limit: int | None = None
    """Quantitative limitation of responded elements"""
    offset: int | None = None
    """Start index of the responded elements"""
    total: int | None = None
    """The sum of retrieved elements"""
    scroll_id: str | None = None
    """Scroll ID for the search. You can then use the scroll ID to retrieve the next batch of results for the request."""


@attrs.frozen(kw_only=True, slots=False)
class CustomRoleAssignee(WireModel):
    """A routed assignee in a routing preview (schema ``CustomRoleAssignee``)."""

    agent_full_name: str | None = None
    """Agent Full Name"""
    role_id: int | None = None
    """The ID of this custom role"""
    role: str | None = None
    """The name of this custom role"""
    assignee_id: int | None = None
    """The user id of this custom role"""
    assignee: str | None = None
    """The user account of this custom role"""
    permission_profile_name: str | None = None
    """The permission profile name of this custom role"""


@attrs.frozen(kw_only=True, slots=False)
class RoutingPreview(WireModel):
    """Who routing would pick for a hypothetical lead (schema ``LeadCustomRoleAssigneeInfo``). Source: POST /v1.0/leads/assignee."""

    lead_id: int | None = None
    """leadId"""
    lead_user_id: int | None = None
    """leadUserId"""
    first_name: str | None = None
    """lead firstName"""
    last_name: str | None = None
    """lead lastName"""
    custom_role_assignees: list[CustomRoleAssignee] | None = None
    """lead customRoleAssignees"""


@attrs.frozen(kw_only=True, slots=False)
class AgentInfo(WireModel):
    """Agent profile details (schema ``AgentInfo``)."""

    license_id: str | None = None
    """Agent license Id"""
    position: str | None = None
    """Agent position"""
    company_name: str | None = None
    """Agent Company Name"""
    company_address: str | None = None
    """Agent company Address"""
    mls_agent_id: str | None = None
    """MLS Agent Id"""
    agent_pid: str | None = None
    """Agent Pid"""


@attrs.frozen(kw_only=True, slots=False)
class Office(WireModel):
    """An office / group (schema ``OfficeBo``)."""

    id: int | None = None
    team_id: int | None = None
    parent_id: int | None = None
    website_owner_id: int | None = None
    name: str | None = None
    type: int | None = None
    phone: str | None = None
    phone_code: str | None = None
    phone_country: str | None = None
    email: str | None = None
    city: str | None = None
    state: str | None = None
    zipcode: str | None = None
    street_address: str | None = None
    web_site_url: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    path: str | None = None
    show_in_site: bool | None = None
    default_flag: bool | None = None
    allow_manage_sub: bool | None = None
    agent_count: int | None = None
    bound_number: str | None = None
    status: str | None = None
    layer: int | None = None
    child_path: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class User(WireModel):
    """The authenticated team member (schema ``UserResponse``). Source: GET /v1.0/me."""

    id: int | None = None
    """Team-member record ID."""
    team_id: int | None = None
    """ID of the team this member belongs to."""
    invitor_user_id: int | None = None
    """User ID of the member who invited this member."""
    member_user_id: int | None = None
    """User ID of the team member."""
    role: int | None = None
    """Numeric role code."""
    role_name: str | None = None
    """Human-readable role name."""
    first_letter: str | None = None
    """First letter of the member's name, used for alphabetic grouping."""
    email: str | None = None
    """Email address of the member."""
    first_name: str | None = None
    """Given name of the member."""
    last_name: str | None = None
    """Family name of the member."""
    phone_number: str | None = None
    """Phone number of the member."""
    status: int | None = None
    """Numeric status code of the member."""
    virtual_number: str | None = None
    """Virtual number assigned to the member for dialer features. Empty string when no virtual number is assigned."""
    new_lead_count: int | None = None
    """Number of new (unassigned) leads routable to this member."""
    assigned_lead_count: int | None = None
    """Number of leads currently assigned to this member."""
    is_admin: bool | None = None
    """Whether the member is an administrator of the team."""
    agent_info: AgentInfo | None = None
    time_zone_id: str | None = None
    """IANA time zone identifier for the member."""
    group_id: int | None = None
    """ID of the office / group this member belongs to."""
    group_name: str | None = None
    """Name of the office / group this member belongs to."""
    group: Office | None = None
    account_status: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class LeadCreate:
    """A ``POST /v1.0/leads`` body (schema ``LeadRequest``); only set fields are sent."""

    cannot_text: bool | None = None
    """false: can send message to the lead"""
    cannot_call: bool | None = None
    """false: can call to the lead"""
    cannot_email: bool | None = None
    """false: can email to the lead"""
    first_name: str
    """The first/given name of the lead Caution: Max limit 30 characters. If you exceed the limit, the import will succuss, but only import 30 characters in front."""
    last_name: str | None = None
    """The last/family name of the lead Caution: Max limit 30 characters. If you exceed the limit, the import will succuss, but only import 30 characters in front."""
    emails: list[str] | None = None
    """A list of email addresses associated with the lead"""
    phones: list[str] | None = None
    """A list of phone numbers associated with the lead. (No more than 20 characters per phone)"""
    lead_types: list[int] | None = None
    """Types of lead, expressed by ID. Type ID : Other (-1), Seller (1), Buyer (2), Renter (5), Investor (6), Agent (7), Homeowner (8), Landlord (9)"""
    assigned_user_id: int | None = None
    """ID of the agent to directly assign this lead to. When provided, automatic lead routing is skipped. When omitted or empty, the lead is routed automatically based on routing rules."""
    street_address: str | None = None
    """The streetAddress associated with the lead. Deprecated: please use the streetAddress field in property instead."""
    city: str | None = None
    """The city associated with the lead. Deprecated: please use the city field in property instead."""
    state: str | None = None
    """The state associated with the lead. Deprecated: please use the state field in property instead."""
    zip_code: str | None = None
    """ZipCode. Deprecated: please use the zipCode field in property instead."""
    referred_by: str | None = None
    """The referee of the lead"""
    stage: str | None = None
    """The stage the lead is in, less than 20 characters"""
    groups: list[str] | None = None
    """The groups the lead is in. Caution: Max limit 30 characters. If you exceed the limit, the import will succeed, but only import 30 characters in front. Deprecated, use segments instead."""
    segments: list[str] | None = None
    """The segments the lead is in. Caution: Max limit 30 characters. If you exceed the limit, the import will succeed, but only import 30 characters in front."""
    tags: list[str] | list[LeadTagRef] | None = None
    """The tags associated with the lead. All existing tags will be updated based on this call. Caution: Max limit 64 characters. If you exceed the limit, the import will succeed, but only import 64 characters in front."""
    tags_add: list[str] | None = None
    """The tags associated with the lead. All existing tags will be retained, only add new tags based on this call. Caution: Max limit 64 characters. If you exceed the limit, the import will succeed, but only import 64 characters in front."""
    source: str | None = None
    """The source of the lead"""
    inquiry: LeadInquiry | None = None
    property: LeadProperty | None = None
    unsubscription: bool | None = None
    """Unsubscription the email"""
    welcome_email: bool | None = None
    """send Welcome Email. (Not supporting update)"""
    lead_alert: bool | None = None
    """send new lead alert email. (Not supporting update)"""
    custom_attribute_list: list[CustomAttribute] | None = None
    """User customized field"""
    birthday: str | None = None
    """The birthday of the lead(pattern:MMM d, yyyy)"""
    lead_routing: bool | None = None
    """Deprecated. Lead routing is now automatically applied when `assignedUserId` is not provided. This field has no effect."""
    assign_group_id: int | None = None
    """Specifies which routing rule scope to apply when automatic lead routing is triggered (i.e., `assignedUserId` is not provided). Set to `-1` to use company-level routing rules. Set to a specific office ID to use that office's routing rules. If omitted, default routing rules will be applied accordin..."""
    buying_time_frame: str | None = None
    """buying time frame, `1-3`, `3-6`, `6-12`, `12+`, `Just Looking`, `Refinancing`."""
    pre_qual: str | None = None
    """Pre-qual, `Yes` or `No`."""
    house_to_sell: str | None = None
    """House to Sell, `Yes` or `No`."""
    fthb: str | None = None
    """first time home buyer, `Yes` or `No`."""
    with_buyer_agent: str | None = None
    """With buyer Agent, `Yes` or `No`."""
    selling_time_frame: str | None = None
    """selling time frame, `1-3`, `3-6`, `6-12`, `12+`, `Just Looking`, `Refinancing`."""
    mortgage: str | None = None
    """Mortgage, `Yes` or `No`."""
    buy_house: str | None = None
    """Buy a house, `Yes` or `No`."""
    with_listing_agent: str | None = None
    """With listing agent, `Yes` or `No`."""
    lead_transaction: LeadTransaction | None = None
    lead_family_member_list: list[LeadFamilyMember] | None = None
    """A list of family members associated with the lead. You can add up to 4 family members."""
    language: str | None = None
    """The lead's abbreviated language, `en`, `fr`, `de`, `es`, `zh-CN`, `zh-TW`, `ja`"""
    content: str | None = None
    """Note content"""
    is_pin: bool | None = None
    """Pin this note or not"""
    ownership_id: int | None = None
    """The entity ID for the ownership scope. Required when `ownershipScope` is `OFFICE` (pass the office ID) or `PERSONAL` (pass the agent's user ID). Ignored when `ownershipScope` is `TEAM`."""
    ownership_scope: str | None = None
    """Controls the visibility scope of the lead. `TEAM` — Account-wide: visible to all users in this Lofty client account. `OFFICE` — visible only within the specified office (requires `ownershipId`). `PERSONAL` — visible only to the specified agent (requires `ownershipId`). Defaults to `PERSONAL` scop..."""
    default_inquiry_param: bool | None = None
    specified_assign_group_id: bool | None = None


@attrs.frozen(kw_only=True, slots=False)
class LeadUpdate:
    """A ``PUT /v1.0/leads/{leadId}`` body (schema ``EditLeadRequest``); only set fields are sent."""

    cannot_text: bool | None = None
    """false: can send message to the lead"""
    cannot_call: bool | None = None
    """false: can call to the lead"""
    cannot_email: bool | None = None
    """false: can email to the lead"""
    first_name: str | None = None
    """The first/given name of the lead Caution: Max limit 30 characters. If you exceed the limit, the import will succuss, but only import 30 characters in front."""
    last_name: str | None = None
    """The last/family name of the lead Caution: Max limit 30 characters. If you exceed the limit, the import will succuss, but only import 30 characters in front."""
    emails: list[str] | None = None
    """A list of email addresses associated with the lead"""
    phones: list[str] | None = None
    """A list of phone numbers associated with the lead. (No more than 20 characters per phone)"""
    lead_types: list[int] | None = None
    """Types of lead, expressed by ID. Type ID : Other (-1), Seller (1), Buyer (2), Renter (5), Investor (6), Agent (7),Homeowner (8), Landlord (9)"""
    assigned_user_id: int | None = None
    """Id of the agent assigned to this contact"""
    street_address: str | None = None
    """The streetAddress associated with the lead. Deprecated: please use the streetAddress field in property instead."""
    city: str | None = None
    """The city associated with the lead. Deprecated: please use the city field in property instead."""
    state: str | None = None
    """The state associated with the lead. Deprecated: please use the state field in property instead."""
    zip_code: str | None = None
    """ZipCode. Deprecated: please use the zipCode field in property instead."""
    referred_by: str | None = None
    """The referee of the lead"""
    is_hidden: bool | None = None
    """The lead is hidden or not"""
    stage: str | None = None
    """The stage the lead is in, less than 20 characters"""
    groups: list[str] | None = None
    """The groups the lead is in Caution: Max limit 30 characters.If you exceed the limit,the import will success , but only import 30 characters in front. deprecated, use segments instead."""
    segments: list[str] | None = None
    """The segments the lead is in Caution: Max limit 30 characters.If you exceed the limit,the import will success , but only import 30 characters in front."""
    tags: list[str] | list[LeadTagRef] | None = None
    """The tags associated with the lead. All existing tags will be updated based on this call Caution: Max limit 64 characters.If you exceed the limit,the import will success , but only import 64 characters in front."""
    tags_add: list[str] | None = None
    """The tags associated with the lead. All existing tags will be retained, only add new tags base on this call Caution: Max limit 64 characters. If you exceed the limit, the import will success, but only import 64 characters in front."""
    source: str | None = None
    """The source of the lead"""
    inquiry: LeadInquiry | None = None
    property: LeadProperty | None = None
    custom_attribute_list: list[CustomAttribute] | None = None
    """User customized field"""
    birthday: str | None = None
    """The birthday of the lead(pattern:MMM d, yyyy)"""
    buying_time_frame: str | None = None
    """buying time frame, `1-3`, `3-6`, `6-12`, `12+`, `Just Looking`, `Refinancing`."""
    pre_qual: str | None = None
    """Pre-qual, `Yes` or `No`."""
    house_to_sell: str | None = None
    """House to Sell, `Yes` or `No`."""
    fthb: str | None = None
    """first time home buyer, `Yes` or `No`."""
    with_buyer_agent: str | None = None
    """With buyer Agent, `Yes` or `No`."""
    selling_time_frame: str | None = None
    """selling time frame, `1-3`, `3-6`, `6-12`, `12+`, `Just Looking`, `Refinancing`."""
    mortgage: str | None = None
    """Mortgage, `Yes` or `No`."""
    buy_house: str | None = None
    """Buy a house, `Yes` or `No`."""
    with_listing_agent: str | None = None
    """With listing agent, `Yes` or `No`."""
    lead_family_member_list: list[LeadFamilyMember] | None = None
    """A list of family members associated with the lead. You can add up to 4 family members."""
    language: str | None = None
    """The lead's abbreviated language, `en`, `fr`, `de`, `es`, `zh-CN`, `zh-TW`, `ja`"""
    ownership_id: int | None = None
    """The entity ID for the ownership scope. Required when `ownershipScope` is `OFFICE` (pass the office ID) or `PERSONAL` (pass the agent's user ID). Ignored when `ownershipScope` is `TEAM`."""
    ownership_scope: str | None = None
    """Controls the visibility scope of the lead. `TEAM` — Account-wide: visible to all users in this Lofty client account. `OFFICE` — visible only within the specified office (requires `ownershipId`). `PERSONAL` — visible only to the specified agent (requires `ownershipId`). Note: `TEAM` refers to the ..."""
    unsubscription: bool | None = None
    """Unsubscription the email"""
    lead_transaction: LeadTransaction | None = None
    tags_remove: list[str] | None = None
    """Tags to remove from the lead, by literal name. Only tags that are already on the lead are affected — a name not currently on the lead is ignored (so a brand-new tag introduced by `tags`/`tagsAdd` in the same request is not affected). Names are matched literally, so a tag named "*" is removed like..."""
    clear_all_tags: bool | None = None
    """Set to `true` to remove ALL tags from the lead. Takes precedence over `tags` / `tagsAdd` / `tagsRemove`. Defaults to `false` (no change)."""


class LeadCreateFields(TypedDict, total=False):
    """Keyword arguments of :class:`LeadCreate` (for ``**fields`` typing)."""

    cannot_text: bool | None
    cannot_call: bool | None
    cannot_email: bool | None
    first_name: str
    last_name: str | None
    emails: list[str] | None
    phones: list[str] | None
    lead_types: list[int] | None
    assigned_user_id: int | None
    street_address: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    referred_by: str | None
    stage: str | None
    groups: list[str] | None
    segments: list[str] | None
    tags: Sequence[str] | Sequence[LeadTagRef] | Sequence[Mapping[str, str]] | None
    tags_add: list[str] | None
    source: str | None
    inquiry: LeadInquiry | None
    property: LeadProperty | None
    unsubscription: bool | None
    welcome_email: bool | None
    lead_alert: bool | None
    custom_attribute_list: list[CustomAttribute] | None
    birthday: str | None
    lead_routing: bool | None
    assign_group_id: int | None
    buying_time_frame: str | None
    pre_qual: str | None
    house_to_sell: str | None
    fthb: str | None
    with_buyer_agent: str | None
    selling_time_frame: str | None
    mortgage: str | None
    buy_house: str | None
    with_listing_agent: str | None
    lead_transaction: LeadTransaction | None
    lead_family_member_list: list[LeadFamilyMember] | None
    language: str | None
    content: str | None
    is_pin: bool | None
    ownership_id: int | None
    ownership_scope: str | None
    default_inquiry_param: bool | None
    specified_assign_group_id: bool | None


class LeadUpdateFields(TypedDict, total=False):
    """Keyword arguments of :class:`LeadUpdate` (for ``**fields`` typing)."""

    cannot_text: bool | None
    cannot_call: bool | None
    cannot_email: bool | None
    first_name: str | None
    last_name: str | None
    emails: list[str] | None
    phones: list[str] | None
    lead_types: list[int] | None
    assigned_user_id: int | None
    street_address: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    referred_by: str | None
    is_hidden: bool | None
    stage: str | None
    groups: list[str] | None
    segments: list[str] | None
    tags: Sequence[str] | Sequence[LeadTagRef] | Sequence[Mapping[str, str]] | None
    tags_add: list[str] | None
    source: str | None
    inquiry: LeadInquiry | None
    property: LeadProperty | None
    custom_attribute_list: list[CustomAttribute] | None
    birthday: str | None
    buying_time_frame: str | None
    pre_qual: str | None
    house_to_sell: str | None
    fthb: str | None
    with_buyer_agent: str | None
    selling_time_frame: str | None
    mortgage: str | None
    buy_house: str | None
    with_listing_agent: str | None
    lead_family_member_list: list[LeadFamilyMember] | None
    language: str | None
    ownership_id: int | None
    ownership_scope: str | None
    unsubscription: bool | None
    lead_transaction: LeadTransaction | None
    tags_remove: list[str] | None
    clear_all_tags: bool | None
