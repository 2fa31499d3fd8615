"""Builds the Litestar app from settings: plugins, routers, lifespan."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.config.csrf import CSRFConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from admin import conversion_views as admin_conversion
from admin import desk_views as admin_desk_views
from admin import exchange_desk_views as admin_exchange_desk_views
from admin import settings_views as admin_settings
from admin import views as admin_views
from backend import __doc__ as about
from backend.auth.firebase import FirebaseVerifier
from backend.auth.tokens import key_ring
from backend.routes import (
    alert_preferences,
    auth,
    clinic,
    clinic_desk,
    health,
    health_department,
    integrations,
    media,
    patient,
    staff_auth,
)
from backend.routes.docs import (
    ExactStructSchema,
    TimeOfDaySchema,
    complete_documentation,
    document_patient_http,
    state_cross_field_rules,
)
from backend.routes.exchange import audit as exchange_audit
from backend.routes.exchange import clinics as exchange_clinics
from backend.routes.exchange import disputes as exchange_disputes
from backend.routes.exchange import figures as exchange_figures
from backend.routes.exchange import inbox as exchange_inbox
from backend.routes.exchange import referral_actions as exchange_referral_actions
from backend.routes.exchange import referrals as exchange_referrals
from backend.routes.exchange import staff as exchange_staff
from backend.routes.links import add_links
from backend.routes.stored_screen import StoredScreenLane
from backend.runtime.logs import configure_logging
from backend.runtime.media_files import media_files_from
from backend.settings import Settings, load_settings
from backend.store.engine import close_engine, open_engine
from backend.web.errors import problem_details
from backend.web.headers import SecurityHeaders
from backend.web.input_checks import refuse_nul_in_query
from backend.web.request_context import InFlight, RequestContext
from patient_web import views as patient_web_views

VERSION = "0.1.0"
ADMIN_DIR = Path(admin_views.__file__).parent
PATIENT_WEB_DIR = Path(patient_web_views.__file__).parent
SHUTDOWN_GRACE_S = 20
# Every route reads at most this much; uploads, imports and deliveries say more or less.
MAX_BODY = 1024 * 1024
log = logging.getLogger("plantrack.app")


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    in_flight = InFlight()

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        engine = await open_engine(settings)
        app.state.engine = engine
        try:
            yield
        finally:
            await close_engine(engine)

    @asynccontextmanager
    async def drain(app: Litestar) -> AsyncIterator[None]:
        # Last in the list, so it ends first: answers still being written finish while
        # the pool, Firebase and the worker are all still there.
        try:
            yield
        finally:
            if not await in_flight.drained(SHUTDOWN_GRACE_S):
                log.warning(
                    "shutting down with requests in flight",
                    extra={"fields": {"requests": in_flight.count}},
                )

    @asynccontextmanager
    async def firebase(app: Litestar) -> AsyncIterator[None]:
        # The certificate cache and its HTTP client belong to this event loop: made here.
        app.state.firebase = FirebaseVerifier(
            settings.firebase_project_id,
            certs_url=settings.firebase_certs_url,
            emulator=bool(settings.firebase_auth_emulator_host),
        )
        try:
            yield
        finally:
            await app.state.firebase.aclose()

    @asynccontextmanager
    async def embedded_worker(app: Litestar) -> AsyncIterator[None]:
        if not settings.embedded_worker:
            yield
            return
        # Imported only when it runs here: its senders (firebase-admin with google-auth,
        # requests and urllib3; SMS; SMTP) would add ~10 MB to every web worker.
        from backend.outbox.worker import run_forever, topics_from

        stop = asyncio.Event()
        async with topics_from(settings) as topics:
            deliver = run_forever(
                topics, stop=stop, lease=timedelta(seconds=settings.worker_lease_seconds)
            )
            task = asyncio.create_task(deliver)
            try:
                yield
            finally:
                stop.set()
                await task

    app = Litestar(
        route_handlers=[
            *health.ROUTES,
            auth.router,
            staff_auth.router,
            patient.router,
            clinic.router,
            clinic_desk.router,
            exchange_clinics.router,
            exchange_inbox.router,
            exchange_staff.router,
            exchange_referrals.router,
            exchange_referral_actions.router,
            exchange_disputes.router,
            exchange_figures.router,
            exchange_audit.router,
            alert_preferences.router,
            health_department.router,
            integrations.router,
            media.media_file,
            admin_views.router,
            patient_web_views.router,
            admin_settings.router,
            admin_conversion.router,
            admin_desk_views.router,
            admin_exchange_desk_views.router,
            create_static_files_router(
                path="/admin/static", directories=[ADMIN_DIR / "static"], include_in_schema=False
            ),
        ],
        # One Jinja set-up for the staff pages and the patient's (templates under patient/).
        template_config=TemplateConfig(
            directory=[ADMIN_DIR / "templates", PATIENT_WEB_DIR / "templates"],
            engine=JinjaTemplateEngine,
        ),
        # Only the admin pages and the patient's web page (/p/) use cookies; the API
        # authenticates by bearer token. One CSRF cookie serves both.
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_path="/",
            cookie_httponly=False,
            cookie_samesite="lax",
            exclude=["^/api/", "^/media/", "^/integrations/", "^/schema", "^/health$", "^/ready$"],
        ),
        # The API is for the app's own origins only; none configured: no CORS at all.
        cors_config=CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            allow_credentials=False,
        )
        if settings.cors_origins
        else None,
        request_max_body_size=MAX_BODY,
        lifespan=[database, firebase, embedded_worker, drain],
        before_request=refuse_nul_in_query,
        plugins=[problem_details, ExactStructSchema(), TimeOfDaySchema()],
        openapi_config=OpenAPIConfig(
            title="plantrack",
            version=VERSION,
            description=about,
            path="/schema",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="A patient's access token (POST /api/v1/auth/patient) or "
                        "a staff session token (POST /api/v1/auth/staff)",
                    )
                }
            ),
        ),
        debug=False,
        logging_config=None,  # ours (backend.runtime.logs): JSON lines, no bodies
    )
    complete_documentation(app)
    add_links(app.openapi_schema)
    document_patient_http(app)
    state_cross_field_rules(app.openapi_schema)
    app.state.settings = settings
    app.state.key_ring = key_ring(settings)
    app.state.media_files = media_files_from(settings)
    # Outermost, so unmatched routes and error responses get a request id too; the plan
    # screen's hot read is answered inside the shell's headers, before the router.
    app.asgi_handler = RequestContext(
        SecurityHeaders(
            StoredScreenLane(app.asgi_handler, settings=settings, key_ring=app.state.key_ring),
            hsts=settings.env == "prod",
            image_origin=app.state.media_files.origin,
        ),
        in_flight,
    )
    return app


def create_app_from_env() -> Litestar:
    """Entry point for servers (uvicorn --factory): settings and logging from the env."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
