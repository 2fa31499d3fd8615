"""Firebase ID tokens, verified by firebase-admin.

With FIREBASE_AUTH_EMULATOR_HOST set (tests, `make run`), the SDK accepts the
emulator's unsigned tokens and checks only aud, iss and sub; production refuses to
start with it set (backend.settings).
"""

import asyncio
import itertools

import firebase_admin
import msgspec
from firebase_admin import auth

_names = itertools.count()


class FirebaseIdentity(msgspec.Struct, frozen=True):
    uid: str
    phone: str | None


class InvalidFirebaseToken(Exception):
    pass


class FirebaseVerifier:
    """One firebase-admin app per server process, created in the app's lifespan."""

    def __init__(self, project_id: str) -> None:
        self.app = firebase_admin.initialize_app(
            options={"projectId": project_id}, name=f"plantrack-{next(_names)}"
        )

    async def verify(self, id_token: str) -> FirebaseIdentity:
        # verify_id_token is blocking (it may fetch Google's public keys): a thread.
        try:
            claims = await asyncio.to_thread(auth.verify_id_token, id_token, self.app)
        except (
            ValueError,
            auth.InvalidIdTokenError,
            auth.ExpiredIdTokenError,
            auth.RevokedIdTokenError,
            auth.CertificateFetchError,
        ) as exc:
            raise InvalidFirebaseToken(str(exc).split(". ")[0]) from exc
        return FirebaseIdentity(uid=claims["uid"], phone=claims.get("phone_number"))

    def close(self) -> None:
        firebase_admin.delete_app(self.app)
