"""A generated Google service-account key whose token endpoint is a local fake."""

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def write_key(path: Path, *, token_uri: str, project_id: str = "plantrack-test") -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": project_id,
                "private_key_id": "test-key-1",
                "private_key": pem,
                "client_email": f"push@{project_id}.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": token_uri,
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            }
        )
    )
    return path
