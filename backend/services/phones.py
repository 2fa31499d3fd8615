"""Phone numbers, normalised to E.164 (+79161234567) with libphonenumber's rules."""

import phonenumbers

DEFAULT_REGION = "RU"


class BadPhone(ValueError):
    pass


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """'8 (916) 123-45-67' → '+79161234567'. Raises BadPhone for what is not a number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise BadPhone(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise BadPhone("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
