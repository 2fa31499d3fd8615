"""Firebase Auth emulator ID tokens: unsigned JWTs the SDK accepts in emulator mode.
For tests and for trying the API by hand (`plantrack dev-token`); useless elsewhere."""

import base64
import json
from datetime import datetime, timedelta


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def emulator_id_token(*, project_id: str, uid: str, phone: str | None, now: datetime) -> str:
    issued = int(now.timestamp())
    claims = {
        "iss": f"https://securetoken.google.com/{project_id}",
        "aud": project_id,
        "sub": uid,
        "user_id": uid,
        "auth_time": issued,
        "iat": issued,
        "exp": int((now + timedelta(hours=1)).timestamp()),
        "firebase": {"sign_in_provider": "phone", "identities": {"phone": [phone]}},
    }
    if phone:
        claims["phone_number"] = phone
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
