"""Test databases: the same tests run on SQLite and on a real PostgreSQL.

    pytest --db=sqlite            # every test; a fresh SQLite file per test
    pytest --db=postgres -m db    # the tests that touch a database, on PostgreSQL

PostgreSQL comes from PLANTRACK_TEST_POSTGRES_URL (a server database the tests may
create databases in), or else a throwaway cluster started for the session.
Migrations run once per session; each test then starts from empty tables.
"""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from litestar import Litestar

from backend.settings import Settings, load_settings
from backend.store.engine import bind, close_engine, make_engine, open_engine
from backend.store.tables import TABLES
from tests import pg_cluster

# Property tests judge what is generated, never how fast: the machines here are shared and
# a busy one made Hypothesis give up ("too slow") or fail a deadline on correct code.
hypothesis_settings.register_profile(
    "plantrack", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("plantrack")

# Tests sign in with the emulator's unsigned tokens, as `make run` does: in the settings
# of in-process apps, and in the environment server processes read them from. The tests
# of the production path (tests/http/test_firebase_tokens.py) turn both off.
EMULATOR_HOST = "127.0.0.1:9099"
os.environ.setdefault("FIREBASE_AUTH_EMULATOR_HOST", EMULATOR_HOST)
# Rate limits count per client address, and every test calls from the same one: budgets
# high enough that no test meets them, except the tests that set small ones on purpose.
TEST_BUDGETS = {
    f"PLANTRACK_RATE_LIMIT_{group}": "1000000"
    for group in ("AUTH", "PATIENT", "STAFF", "WEBHOOKS", "LINKS")
}
for _name, _value in TEST_BUDGETS.items():
    os.environ.setdefault(_name, _value)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default=os.environ.get("PLANTRACK_TEST_DB", "sqlite"),
        help="database engine for the tests marked db",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def pytest_report_header(config: pytest.Config) -> str:
    return f"plantrack test database: {config.getoption('--db')}"


def _settings(var_dir: Path, url: str, extra: dict[str, str] | None = None) -> Settings:
    return load_settings(
        {
            **(extra or {}),
            "PLANTRACK_ENV": "dev",
            "PLANTRACK_VAR_DIR": str(var_dir),
            "PLANTRACK_DATABASE_URL": url,
            "PLANTRACK_SECRET_KEY": "test-secret-" + "x" * 40,
            "PLANTRACK_DB_POOL_SIZE": "4",
            "FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST,
            **TEST_BUDGETS,
        }
    )


async def _migrate(settings: Settings) -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    engine = bind(make_engine(settings.database_url))
    result = await run_forwards(app_name="plantrack")
    assert result.success, result.message
    await close_engine(engine)


@pytest.fixture(scope="session")
def database_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(engine, URL) of a migrated database the tests start from."""
    engine = request.config.getoption("--db")
    base = tmp_path_factory.mktemp("db")
    if engine == "sqlite":
        url = f"sqlite:///{base / 'template.sqlite3'}"
        asyncio.run(_migrate(_settings(base, url)))
        yield engine, url
        return

    given = os.environ.get("PLANTRACK_TEST_POSTGRES_URL")
    cluster = None
    if given:
        server_url = given
    else:
        cluster = pg_cluster.temp_base()
        server_url = pg_cluster.start(cluster)
    url = asyncio.run(_fresh_postgres_database(server_url, "plantrack_test"))
    asyncio.run(_migrate(_settings(base, url)))
    try:
        yield engine, url
    finally:
        if cluster is not None:
            pg_cluster.stop(cluster)


async def _fresh_postgres_database(server_url: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


_TRUNCATE = "TRUNCATE {} RESTART IDENTITY CASCADE".format(
    ", ".join(f'"{t._meta.tablename}"' for t in TABLES)
)


async def empty_tables(engine) -> None:
    """TRUNCATE, which the ledger's and the audit log's triggers refuse unless the session
    says otherwise (migration m0015): only this fixture does, and only for its own
    transaction (SET LOCAL), so no pooled connection keeps the permission."""
    async with engine.transaction():
        await engine.run_ddl("SET LOCAL plantrack.allow_truncate = 'on'")
        await engine.run_ddl(_TRUNCATE)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-compatible server (moto's) on a loopback port, for the session; each
    test that uses it gets a bucket of its own (see `db`)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=pg_cluster.free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "plantrack-test",
    "AWS_SECRET_ACCESS_KEY": "plantrack-test-secret",
    "AWS_REGION": "eu-central-1",
}


def new_bucket(endpoint: str) -> str:
    import boto3  # moto's own dependency: only the tests create buckets

    name = f"plantrack-{uuid.uuid4().hex[:16]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_CREDENTIALS["AWS_REGION"],
    ).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": S3_CREDENTIALS["AWS_REGION"]}
    )
    return name


@pytest.fixture
def media_backend(request: pytest.FixtureRequest) -> str:
    """Where the test's pictures live: "local" (the media directory), unless a test
    parametrizes it (indirectly) with "s3", the object store."""
    return getattr(request, "param", "local")


def media_environment(request: pytest.FixtureRequest, backend: str) -> dict[str, str]:
    if backend == "local":
        return {}
    endpoint = request.getfixturevalue("s3_server")
    return {
        "PLANTRACK_MEDIA_URL": f"s3://{new_bucket(endpoint)}/pictures",
        "AWS_ENDPOINT_URL": endpoint,
        **S3_CREDENTIALS,
    }


@pytest.fixture
async def db(
    database_template: tuple[str, str],
    tmp_path: Path,
    media_backend: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Settings]:
    """Settings for a database with the schema and no rows, bound and connected (and, for
    a test on the object store, an empty bucket)."""
    engine_name, url = database_template
    if engine_name == "sqlite":
        template = Path(url.removeprefix("sqlite:///"))
        mine = tmp_path / "test.sqlite3"
        shutil.copyfile(template, mine)
        url = f"sqlite:///{mine}"
    settings = _settings(tmp_path, url, media_environment(request, media_backend))
    engine = await open_engine(settings)
    if engine_name == "postgres":
        await empty_tables(engine)
    try:
        yield settings
    finally:
        await close_engine(engine)


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own, entered and exited in that task
    (anyio requires it), while the test talks to the app on the same event loop."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # startup failed: raise its error here
    try:
        yield
    finally:
        stop.set()
        await task


@pytest.fixture
async def client(db: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process, on this test's event loop, through its real lifespan."""
    from backend.app import create_app

    app = create_app(db)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plantrack.test") as c:
            yield c
