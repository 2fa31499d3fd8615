"""The patient's pages' form bodies, every one in one place: what each form on the SMS
link's pages posts (strings as the browser sends them; the page turns them into service
input)."""

from typing import Annotated, Literal

import msgspec

# The date field's value: an ISO day (what <input type=date> sends), or empty for "not said".
CallDay = Annotated[str, msgspec.Meta(max_length=10, pattern=r"^(\d{4}-\d{2}-\d{2})?$")]


class AnswerForm(msgspec.Struct, kw_only=True):
    answer: Literal["yes", "no", "unsure"]
    called_day: CallDay = ""


class VariantForm(msgspec.Struct, kw_only=True):
    variant: Annotated[str, msgspec.Meta(min_length=1, max_length=8)]


class ReplyForm(msgspec.Struct, kw_only=True):
    response: Literal["confirm", "decline", "reschedule"]


class RatingForm(msgspec.Struct, kw_only=True):
    called: Literal["yes", "no"]
    stars: Literal["", "1", "2", "3", "4", "5"] = ""
    called_day: CallDay = ""


class CodeForm(msgspec.Struct, kw_only=True):
    code: Annotated[str, msgspec.Meta(max_length=20)] = ""


class SignOutForm(msgspec.Struct, kw_only=True):
    everywhere: Literal["", "yes"] = ""
