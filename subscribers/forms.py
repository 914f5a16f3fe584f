"""The sign-up and preferences forms. They parse and check input (with the rules in
subscribers.rules) and hand clean values to one service; they change nothing themselves."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.forms import formset_factory

from subscribers import rules, similar
from subscribers.models import (
    DEFAULT_PAPERS,
    MAX_FILTERS,
    MAX_PAPERS,
    MIN_PAPERS,
    Subscriber,
    default_week_day,
)

QUERY_PLACEHOLDER = 'e.g. ti:"large language model" AND cat:cs.CL'
NAME_PLACEHOLDER = "e.g. LLM papers"
HOURS = [(hour, f"{hour:02d}:00") for hour in range(24)]


def address_field(label: str, required: str) -> forms.CharField:
    """An email address field: the browser's email keyboard and autocomplete, and our own
    length message (the address itself is checked by `rules.check_email`)."""
    return forms.CharField(
        label=label,
        max_length=320,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={
            "required": required,
            "max_length": "An email address can be at most 254 characters long.",
        },
    )


class Form(forms.Form):
    """Labels without Django's trailing colon: they read as headings above each field."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PreferencesForm(Form):
    """What a subscriber can change on the manage page (and chooses when signing up)."""

    frequency = forms.ChoiceField(
        label="How often",
        choices=Subscriber.Frequency.choices,
        initial=Subscriber.Frequency.DAILY,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose daily or weekly.", "invalid_choice": "Choose daily or weekly."},
    )
    week_day = forms.TypedChoiceField(
        label="Day of the week",
        choices=list(enumerate(rules.WEEKDAYS)),
        coerce=int,
        required=False,
        empty_value=None,
        help_text="For weekly digests.",
        error_messages={"invalid_choice": "Choose a day of the week for weekly digests."},
    )
    send_hour = forms.TypedChoiceField(
        label="Delivery time",
        choices=HOURS,
        coerce=int,
        initial=7,
        help_text="In your time zone.",
        error_messages={
            "required": "Choose an hour from 0 to 23.",
            "invalid_choice": "Choose an hour from 0 to 23.",
        },
    )
    timezone = forms.CharField(
        label="Time zone",
        initial="UTC",
        max_length=64,
        widget=forms.Select,
        error_messages={"required": "Choose your time zone."},
    )
    max_papers = forms.IntegerField(
        label="Papers per digest",
        initial=DEFAULT_PAPERS,
        help_text=f"From {MIN_PAPERS} to {MAX_PAPERS}; the best matches come first.",
        widget=forms.NumberInput(attrs={"min": MIN_PAPERS, "max": MAX_PAPERS}),
        error_messages={
            "required": f"Choose between {MIN_PAPERS} and {MAX_PAPERS} papers per digest.",
            "invalid": f"Enter a whole number between {MIN_PAPERS} and {MAX_PAPERS}.",
        },
    )
    include_trending = forms.BooleanField(
        label="Also include today's trending papers",
        required=False,
        help_text="Papers many people upvote on Hugging Face, even when no filter matches them.",
    )
    send_when_empty = forms.BooleanField(
        label="Email me even when nothing new matches",
        required=False,
        help_text="Otherwise a day without matches sends nothing.",
    )

    similar = forms.CharField(
        label="Papers you like",
        required=False,
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "placeholder": "e.g. 1706.03762\nhttps://arxiv.org/abs/2005.14165v4\nAttention Is All You Need",  # noqa: E501
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
        help_text=(
            f"One a line: arXiv ids, arxiv.org links or titles, up to {similar.MAX_SEEDS}. "
            "Each digest then brings new papers similar to these, "
            "and what you like is learnt starting from them."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = rules.timezone_names()
        self.fields["timezone"].widget.choices = [(name, name) for name in names]

    def clean_timezone(self):
        return rules.check_timezone(self.cleaned_data["timezone"])

    def clean_similar(self):
        return similar.seeds_check(self.cleaned_data["similar"])

    def clean_max_papers(self):
        return rules.check_max_papers(self.cleaned_data["max_papers"])

    def offer_default_week_day(self) -> None:
        """A fresh form starts on the service's default weekday (DIGEST_WEEK_START)."""
        self.fields["week_day"].initial = default_week_day()

    def clean_send_hour(self):
        return rules.check_send_hour(self.cleaned_data["send_hour"])


class DomainRule:
    """The email field of a sign-up: at a domain SIGNUP_ALLOWED_DOMAINS allows, unless the
    person came through an invitation link (`invited`); the field's help says which."""

    def __init__(self, *args, invited: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.invited = invited
        if settings.SIGNUP_ALLOWED_DOMAINS and not invited:
            self.fields[
                "email"
            ].help_text = f"Subscriptions here are for addresses at {rules.signup_domains_text()}."

    def clean_email(self):
        email = rules.check_email(self.cleaned_data["email"])
        return email if self.invited else rules.check_signup_domain(email)


class SignupForm(DomainRule, PreferencesForm):
    email = address_field("Email address", "Enter your email address.")

    field_order = [
        "email",
        "frequency",
        "week_day",
        "send_hour",
        "timezone",
        "max_papers",
        "include_trending",
        "send_when_empty",
        "similar",
    ]

    def offer_browser_timezone(self) -> None:
        """Let the page's script pre-fill the time zone from the browser (fresh forms only)."""
        self.fields["timezone"].widget.attrs["data-timezone-autofill"] = ""


class TrendingSignupForm(DomainRule, Form):
    """The one-box subscription: an address alone gets the day's trending papers, daily, at
    the default hour (filters and the rest can be added later on the manage page)."""

    email = address_field("Email address", "Enter your email address.")

    def __init__(self, *args, **kwargs):
        # Its own ids: the full sign-up form on the same page has an email field too.
        kwargs.setdefault("auto_id", "trending_%s")
        super().__init__(*args, **kwargs)


class EmailChangeForm(Form):
    """The manage page's "change your address": the new address, checked like a sign-up's."""

    new_email = address_field("New email address", "Enter the new address.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if settings.SIGNUP_ALLOWED_DOMAINS:
            self.fields["new_email"].help_text = f"An address at {rules.signup_domains_text()}."

    def clean_new_email(self):
        return rules.check_signup_domain(rules.check_email(self.cleaned_data["new_email"]), signup=False)


class FilterForm(Form):
    name = forms.CharField(
        label="Name",
        required=False,
        max_length=rules.MAX_NAME_LENGTH,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": NAME_PLACEHOLDER}),
        help_text="Optional: how the digest labels papers this filter found.",
        error_messages={"max_length": f"Keep the name to {rules.MAX_NAME_LENGTH} characters."},
    )
    query = forms.CharField(
        label="Query",
        required=True,
        strip=False,  # check_query strips, after the parser has counted columns as typed
        # Longer text is refused with a message that says how long it is, not cut off.
        widget=forms.TextInput(
            attrs={"placeholder": QUERY_PLACEHOLDER, "spellcheck": "false", "autocapitalize": "off"}
        ),
        error_messages={"required": "Write a query for this filter, e.g. ti:transformer AND cat:cs.CL."},
    )

    def clean_name(self):
        return rules.check_filter_name(self.cleaned_data["name"])

    def clean_query(self):
        return rules.check_query(self.cleaned_data["query"])

    def filter_input(self) -> rules.FilterInput:
        query = self.cleaned_data["query"]
        return rules.FilterInput(
            name=self.cleaned_data["name"] or rules.default_filter_name(query), query=query
        )


class BaseFilterFormSet(forms.BaseFormSet):
    def get_form_kwargs(self, index):
        # Every row may be left empty (an empty row is simply no filter, so a person can
        # remove one by clearing it); the formset as a whole needs at least one filter,
        # unless the subscriber takes the day's trending papers.
        return {"empty_permitted": True, "use_required_attribute": False}

    def clean(self):
        # Django replaces the formset's errors with those raised here: keep its own
        # (a missing management form, too many rows) by not adding to them.
        if any(self.errors) or self._non_form_errors:
            return
        # None at all is a trending-only subscription (the trending box ticked), or one of
        # papers similar to those pasted.
        if (
            not self.filled_forms()
            and not self.data.get("include_trending")
            and not self.data.get("similar", "").strip()
        ):
            raise forms.ValidationError(
                "Add at least one filter: a query that describes papers you want.", code="too_few_forms"
            )

    def filled_forms(self) -> list[FilterForm]:
        return [form for form in self.forms if form.has_changed() and form.cleaned_data]

    def filter_inputs(self) -> list[rules.FilterInput]:
        return [form.filter_input() for form in self.filled_forms()]


FilterFormSet = formset_factory(
    FilterForm,
    formset=BaseFilterFormSet,
    extra=0,
    max_num=MAX_FILTERS,
    absolute_max=MAX_FILTERS,
    validate_max=True,
)
FILTERS_PREFIX = "filters"
FILTER_ERRORS = {
    "too_many_forms": f"You can have at most {MAX_FILTERS} filters.",
    "missing_management_form": "The list of filters was incomplete; please fill in the form again.",
}


def filter_formset(data=None, *, initial=None, rows: int = 1) -> BaseFilterFormSet:
    """The filters of a form: bound to DATA, or ROWS rows pre-filled from INITIAL."""
    if data is not None:
        return FilterFormSet(data, prefix=FILTERS_PREFIX, error_messages=FILTER_ERRORS)
    initial = list(initial or [])[:MAX_FILTERS]
    formset = FilterFormSet(initial=initial, prefix=FILTERS_PREFIX, error_messages=FILTER_ERRORS)
    formset.extra = max(0, min(rows, MAX_FILTERS) - len(initial))
    return formset
