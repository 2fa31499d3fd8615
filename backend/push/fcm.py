"""Sending pushes through Firebase Cloud Messaging with firebase-admin.

One firebase-admin app per process, made inside the running event loop (its async
HTTP client binds to the first loop it runs on). Messages go out with
`send_each_async`, at most 500 per call, and each result is sorted into what the
outbox needs to know:

- delivered;
- token gone (UNREGISTERED, SENDER_ID_MISMATCH, or INVALID_ARGUMENT about the token):
  the device is deactivated;
- try again (429, 5xx, network): by the outbox, with backoff, honouring Retry-After,
  which the SDK ignores;
- failed (a message FCM will never take).

An FCM that accepts connections and never answers costs one timeout per batch: the
OAuth token is refreshed in a thread with a deadline (the SDK would refresh it
synchronously on the event loop, with requests' 120 s), each call is cut at the
timeout, and once a call went unanswered the rest of the batch is not sent (retried
later) instead of each chunk waiting out its own timeout.

Without credentials the sender is None and the worker writes pushes to the log.
"""

import asyncio
import itertools
import logging
import warnings
from datetime import timedelta

import firebase_admin
import google.auth.exceptions
import msgspec
from firebase_admin import _http_client, credentials, exceptions, messaging
from firebase_admin._retry import HttpxRetry
from google.auth.transport import requests as google_requests

log = logging.getLogger("plantrack.fcm")

# FCM takes at most 500 messages per send_each_async call, and the SDK sends them all
# at once. Measured against a local fake (bench/push_throughput.py), httpx's connection
# pool slows down badly with hundreds in flight: 500 per call gave ~110 msg/s, 50 ~500.
BATCH = 50
SEND_TIMEOUT_S = 15.0  # the SDK waits 120 s for an FCM that hangs
_names = itertools.count()


class Push(msgspec.Struct, frozen=True, kw_only=True):
    """One message to one device, as the outbox holds it (no health data inside)."""

    address: str  # the device's registration token or Firebase installation id
    address_kind: str  # fcm_token | fid
    title: str
    body: str
    data: dict[str, str]
    collapse_key: str  # one per referral: an offline phone gets only the latest
    tag: str  # one per notification: a repeat replaces it on screen, never doubles it
    ttl_seconds: int
    urgent: bool


class Result(msgspec.Struct, frozen=True, kw_only=True):
    outcome: str  # delivered | token_gone | retry | failed
    detail: str = ""
    retry_after: timedelta | None = None

    @property
    def unanswered(self) -> bool:
        """FCM never answered (timeout, connection lost): no status, nothing known."""
        return self.outcome == "retry" and self.detail in UNANSWERED


UNANSWERED = ("DeadlineExceededError", "UnavailableError", "UnknownError")


def _message(push: Push) -> messaging.Message:
    ttl = timedelta(seconds=push.ttl_seconds)
    android = messaging.AndroidConfig(
        collapse_key=push.collapse_key,
        ttl=ttl,
        priority="high" if push.urgent else "normal",
        notification=messaging.AndroidNotification(tag=push.tag),
    )
    apns = messaging.APNSConfig(
        headers={
            "apns-collapse-id": push.tag[:64],
            "apns-priority": "10" if push.urgent else "5",
            "apns-expiration": str(push.ttl_seconds),
        }
    )
    common = dict(
        notification=messaging.Notification(title=push.title, body=push.body),
        data=push.data,
        android=android,
        apns=apns,
    )
    if push.address_kind == "fid":
        return messaging.Message(fid=push.address, **common)
    with warnings.catch_warnings():
        # Registration tokens still work with FCM v1; the SDK nudges towards FIDs.
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.Message(token=push.address, **common)


def _about_the_token(error: exceptions.FirebaseError) -> bool:
    """INVALID_ARGUMENT names the field it objects to; only message.token means the
    device's address is bad (the rest is our message's fault)."""
    response = getattr(error, "http_response", None)
    try:
        details = response.json()["error"].get("details", []) if response is not None else []
    except (ValueError, KeyError, AttributeError):
        details = []
    for detail in details:
        for violation in detail.get("fieldViolations", []):
            if violation.get("field") in ("message.token", "message.fid"):
                return True
    return "registration token" in str(error).lower()


def classify(error: exceptions.FirebaseError | None) -> Result:
    if error is None:
        return Result(outcome="delivered")
    name = type(error).__name__
    if isinstance(error, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return Result(outcome="token_gone", detail=name)
    if isinstance(error, exceptions.InvalidArgumentError):
        if _about_the_token(error):
            return Result(outcome="token_gone", detail="INVALID_ARGUMENT: token")
        return Result(outcome="failed", detail=f"INVALID_ARGUMENT: {error}"[:300])
    response = getattr(error, "http_response", None)
    status = getattr(response, "status_code", None)
    retry_after = None
    if response is not None:
        raw = response.headers.get("retry-after")
        if raw and raw.strip().isdigit():
            retry_after = timedelta(seconds=int(raw))
    if (
        isinstance(
            error,
            messaging.QuotaExceededError
            | exceptions.UnavailableError
            | exceptions.InternalError
            | exceptions.DeadlineExceededError
            | exceptions.UnknownError,
        )
        or status is None
        or status == 429
        or status >= 500
    ):
        return Result(
            outcome="retry", detail=f"{name} {status or ''}".strip(), retry_after=retry_after
        )
    return Result(outcome="failed", detail=f"{name} {status}: {error}"[:300])


class FcmSender:
    def __init__(
        self,
        *,
        credentials_path: str,
        project_id: str | None,
        endpoint: str | None = None,
        batch: int = BATCH,
        timeout: float = SEND_TIMEOUT_S,
    ) -> None:
        if not 1 <= batch <= 500:
            raise ValueError("FCM takes 1 to 500 messages per call")
        self.batch = batch
        self.timeout = timeout
        options = {"projectId": project_id} if project_id else {}
        self.app = firebase_admin.initialize_app(
            credentials.Certificate(credentials_path),
            options=options,
            name=f"plantrack-fcm-{next(_names)}",
        )
        service = messaging._get_messaging_service(self.app)
        # No retries inside the SDK: the outbox retries with its own backoff. The SDK's
        # (4 on 500/503, sleeping up to 7 s a call) hold the whole worker while FCM is
        # down, and its retry transport never closes the responses it retries, so each
        # one keeps a pooled connection: about a hundred 503s and every send hangs.
        service._async_client = _http_client.HttpxAsyncClient(
            credential=service._credential,
            timeout=timeout,
            retry_config=HttpxRetry(max_retries=0),
        )
        self.credential = service._credential
        if endpoint:
            # firebase-admin has no setting for this; tests and staging relays need it.
            service._fcm_url = (
                f"{endpoint.rstrip('/')}/v1/projects/{service._project_id}/messages:send"
            )

    async def send(self, pushes: list[Push]) -> list[Result]:
        try:
            await self._fresh_token()
        except (TimeoutError, google.auth.exceptions.GoogleAuthError) as exc:
            detail = f"no OAuth token for FCM: {type(exc).__name__}"
            return [Result(outcome="retry", detail=detail)] * len(pushes)
        results: list[Result] = []
        for start in range(0, len(pushes), self.batch):
            chunk = pushes[start : start + self.batch]
            try:
                async with asyncio.timeout(self.timeout * 2):  # the SDK's own, per read, first
                    batch = await messaging.send_each_async(
                        [_message(p) for p in chunk], app=self.app
                    )
            except exceptions.FirebaseError as exc:  # the whole call failed
                results += [classify(exc)] * len(chunk)
                continue
            except TimeoutError:
                results += [Result(outcome="retry", detail="DeadlineExceededError")] * len(chunk)
            else:
                results += [classify(r.exception) for r in batch.responses]
            if all(r.unanswered for r in results[-len(chunk) :]):
                # FCM is not answering: the rest of this batch waits for its retry rather
                # than each chunk waiting out another timeout.
                rest = len(pushes) - len(results)
                results += [Result(outcome="retry", detail="not sent: FCM did not answer")] * rest
                break
        return results

    async def _fresh_token(self) -> None:
        """Refresh the OAuth token off the event loop, with a deadline, when it is due
        (the SDK would do it synchronously inside its HTTP auth flow)."""
        if self.credential.valid:
            return
        request = google_requests.Request()
        timeout = self.timeout

        def refresh() -> None:
            self.credential.refresh(lambda *a, **kw: request(*a, **{**kw, "timeout": timeout}))

        async with asyncio.timeout(timeout + 1):
            await asyncio.to_thread(refresh)

    async def aclose(self) -> None:
        """Close the SDK's async HTTP client on this loop, then drop the app. (delete_app
        would close it with asyncio.run(), which cannot run inside a running loop.)"""
        service = messaging._get_messaging_service(self.app)
        await service._async_client.aclose()
        await asyncio.to_thread(firebase_admin.delete_app, self.app)
