"""The `plantrack` command: serve, migrate, demo, staff, worker, backup, restore."""

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from backend.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        sys.exit(f"plantrack: {exc}")


async def _with_database(settings: Settings, job: Callable[[], Awaitable[None]]) -> None:
    from backend.store.engine import close_engine, open_engine

    engine = await open_engine(settings)
    try:
        await job()
    finally:
        await close_engine(engine)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    # Workers are separate processes that read their settings from the environment.
    for var, value in (
        ("PLANTRACK_HOST", args.host),
        ("PLANTRACK_PORT", args.port),
        ("PLANTRACK_WORKERS", args.workers),
    ):
        if value is not None:
            os.environ[var] = str(value)
    settings = _settings()
    from backend.runtime.logs import configure_logging

    configure_logging(settings.log_level)
    uvicorn.run(
        "backend.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        access_log=False,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        server_header=False,
    )


async def migrate(settings: Settings) -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from backend.store.engine import bind, make_engine

    bind(make_engine(settings.database_url))
    result = await run_forwards(app_name="plantrack")
    if not result.success:
        sys.exit(f"plantrack migrate: {result.message}")


def cmd_migrate(args: argparse.Namespace) -> None:
    asyncio.run(migrate(_settings()))


def cmd_demo(args: argparse.Namespace) -> None:
    from backend.ops.demo import load_demo
    from backend.outbox.worker import SmsDelivery
    from backend.runtime.media_files import media_files_from
    from backend.services.sms import report as sms_report
    from backend.store import referrals

    settings = _settings()

    tty = sys.stdout.isatty()

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            last = done == total
            print(
                f"\r  referrals {done}/{total}" if tty else f"  referrals {done}/{total}",
                end="\n" if last or not tty else "",
                flush=True,
            )

    async def job() -> None:
        added = await load_demo(
            referrals_count=args.referrals,
            seed=args.seed,
            progress=progress,
            media_files=media_files_from(settings),
            # The demo's phones are made up: its SMS are decided and logged, never sent.
            sms_delivery=SmsDelivery(
                sender=None,
                secret=settings.secret_key,
                public_url=settings.public_url,
                weekly_limit=settings.sms_weekly_limit,
            ),
        )
        print("added: " + ", ".join(f"{k} {v}" for k, v in added.items()))
        steps = await referrals.count_by_step()
        print("referrals by step: " + ", ".join(f"{k} {v}" for k, v in steps.items()))
        print_sms_report(await sms_report(), brief=True)

    print(f"loading demo data into {settings.database_url.split('@')[-1]}")
    asyncio.run(_with_database(settings, job))


def print_sms_report(report, *, brief: bool = False) -> None:
    """SMS by kind: sent (or logged), billed parts, refused, failed; per referral."""
    n = max(report.without_app, 1)
    print(
        f"SMS: {report.went} sent or logged, {report.parts} billed parts, for "
        f"{report.referrals} referrals; {report.without_app} of them are of patients without "
        f"the app: {report.without_app_sms / n:.2f} SMS and {report.without_app_parts / n:.2f} "
        "parts per such referral"
    )
    if brief:
        return
    print(f"  {'kind':<11} {'went':>6} {'parts':>6} {'skipped':>8} {'failed':>7} {'waiting':>8}")
    for k in report.kinds:
        print(
            f"  {k.kind:<11} {k.went:>6} {k.parts:>6} {k.skipped:>8} {k.failed:>7} {k.waiting:>8}"
        )
    if report.skipped_because:
        print("  not sent, because:")
        for kind, reason, n in report.skipped_because:
            print(f"    {n:>6}  {kind}: {reason}")


def cmd_sms_report(args: argparse.Namespace) -> None:
    from backend.services.sms import report

    async def job() -> None:
        print_sms_report(await report())

    asyncio.run(_with_database(_settings(), job))


def cmd_staff_add(args: argparse.Namespace) -> None:
    from backend.domain.roles import Role
    from backend.services.errors import ServiceError
    from backend.services.staff import add_staff

    password = args.password or os.environ.get("PLANTRACK_STAFF_PASSWORD")
    if not password:
        password = getpass.getpass("password: ")

    async def job() -> None:
        try:
            staff = await add_staff(
                email=args.email,
                role=Role(args.role),
                password=password,
                clinic_id=args.clinic,
                name=args.name,
            )
        except ServiceError as exc:
            sys.exit(f"plantrack staff add: {exc.detail}")
        print(f"added {staff.email} ({staff.role}), id {staff.staff_id}")
        print("second factor: add this to an authenticator app (shown only now):")
        print(f"  {staff.totp_uri}")

    asyncio.run(_with_database(_settings(), job))


def cmd_worker(args: argparse.Namespace) -> None:
    from backend.outbox.worker import run_forever, run_once, topics_from, worker_name
    from backend.runtime.logs import configure_logging
    from backend.services.recording import reevaluate_due

    settings = _settings()
    configure_logging(settings.log_level)

    async def job() -> None:
        async with topics_from(settings) as topics:
            if args.once:
                sent = await run_once(topics, worker=worker_name(), batch=args.batch)
                refolded = await reevaluate_due()
                print(f"outbox messages handled: {sent}; referrals re-folded: {refolded}")
            else:
                await run_forever(
                    topics,
                    interval=args.interval,
                    batch=args.batch,
                    lease=timedelta(seconds=settings.worker_lease_seconds),
                )

    with suppress(KeyboardInterrupt):
        asyncio.run(_with_database(settings, job))


def cmd_refold(args: argparse.Namespace) -> None:
    from backend.services.recording import refold_all

    settings = _settings()

    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            print(f"  refolded {done}/{total}", flush=True)

    async def job() -> None:
        clinic = UUID(args.clinic) if args.clinic else None
        count = await refold_all(
            only_missing_facts=args.missing, clinic_id=clinic, progress=progress
        )
        print(f"referrals refolded: {count}")

    asyncio.run(_with_database(settings, job))


def cmd_dev_token(args: argparse.Namespace) -> None:
    """An emulator ID token for a phone, to try the patient API by hand."""
    from backend.auth.emulator import emulator_id_token
    from backend.runtime.clock import utcnow
    from backend.services.phones import BadPhone, normalise_phone

    settings = _settings()
    if settings.env != "dev" or not os.environ.get("FIREBASE_AUTH_EMULATOR_HOST"):
        sys.exit("plantrack dev-token: only in dev with FIREBASE_AUTH_EMULATOR_HOST set")
    try:
        phone = normalise_phone(args.phone)
    except BadPhone as exc:
        sys.exit(f"plantrack dev-token: {exc}")
    print(
        emulator_id_token(
            project_id=settings.firebase_project_id,
            uid=f"dev-{phone[1:]}",
            phone=phone,
            now=utcnow(),
        )
    )


def cmd_dev_link(args: argparse.Namespace) -> None:
    """A patient's page link for their latest referral, to try the page by hand."""
    from backend.runtime.clock import utcnow
    from backend.services.patient_links import latest_link
    from backend.services.phones import BadPhone, normalise_phone

    settings = _settings()
    if settings.env != "dev":
        sys.exit("plantrack dev-link: only in dev (patients get their links by SMS)")
    try:
        phone = normalise_phone(args.phone)
    except BadPhone as exc:
        sys.exit(f"plantrack dev-link: {exc}")

    async def job() -> None:
        url = await latest_link(
            phone, secret=settings.secret_key, public_url=settings.public_url, now=utcnow()
        )
        if url is None:
            sys.exit("plantrack dev-link: this phone has no referral whose page still opens")
        print(url)

    asyncio.run(_with_database(settings, job))


def cmd_backup(args: argparse.Namespace) -> None:
    from backend.ops.backup import BackupError, backup

    try:
        print(backup(_settings(), args.path))
    except BackupError as exc:
        sys.exit(f"plantrack: {exc}")


def cmd_restore(args: argparse.Namespace) -> None:
    from backend.ops.backup import BackupError, restore

    try:
        restore(_settings(), args.path)
    except BackupError as exc:
        sys.exit(f"plantrack: {exc}")


def cmd_backup_media(args: argparse.Namespace) -> None:
    from backend.ops.backup import backup_media
    from backend.runtime.media_files import media_files_from

    copied, kept = asyncio.run(backup_media(media_files_from(_settings()), args.path))
    print(f"pictures copied: {copied}; already in the backup: {kept}")


def cmd_restore_media(args: argparse.Namespace) -> None:
    from backend.ops.backup import BackupError, restore_media
    from backend.runtime.media_files import media_files_from

    try:
        count = asyncio.run(restore_media(media_files_from(_settings()), args.path))
    except BackupError as exc:
        sys.exit(f"plantrack: {exc}")
    print(f"pictures restored: {count}")


def cmd_media_sizes(args: argparse.Namespace) -> None:
    from backend.runtime.media_files import media_files_from
    from backend.services.media import add_missing_sizes

    settings = _settings()

    def progress(done: int) -> None:
        if done % 50 == 0:
            print(f"  pictures sized: {done}", flush=True)

    async def job() -> None:
        done = await add_missing_sizes(media_files_from(settings), progress=progress)
        print(f"pictures given their sizes: {done}")

    asyncio.run(_with_database(settings, job))


def build_parser() -> argparse.ArgumentParser:
    from backend.domain.roles import Role

    parser = argparse.ArgumentParser(prog="plantrack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the HTTP API (uvicorn)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument(
        "--proxy-headers", action="store_true", help="trust X-Forwarded-For from a reverse proxy"
    )
    p.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1,::1",
        help="the proxies' addresses (comma-separated; '*' for any) whose X-Forwarded-For "
        "is trusted: sign-in budgets and the audit log count the caller's address from it",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo", help="load demo data (idempotent)")
    p.add_argument("--referrals", type=int, default=300)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "refold", help="rewrite derived rows (step, money, funnel facts) from the ledger"
    )
    p.add_argument("--missing", action="store_true", help="only referrals without funnel facts")
    p.add_argument("--clinic", help="only this clinic's referrals (its id)")
    p.set_defaults(func=cmd_refold)

    staff = sub.add_parser("staff", help="staff accounts").add_subparsers(
        dest="staff_command", required=True
    )
    p = staff.add_parser("add", help="add a staff account")
    p.add_argument("--email", required=True)
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--clinic", type=UUID, help="clinic id, for clinic roles")
    p.add_argument("--name", default="")
    p.add_argument("--password", help="else PLANTRACK_STAFF_PASSWORD, else asked for")
    p.set_defaults(func=cmd_staff_add)

    p = sub.add_parser("worker", help="deliver the outbox and re-check verification deadlines")
    p.add_argument("--once", action="store_true", help="one batch, then exit")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between idle polls")
    p.add_argument("--batch", type=int, default=500, help="messages claimed at a time")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser(
        "sms-report", help="SMS to patients by kind: sent, billed parts, refused and why"
    )
    p.set_defaults(func=cmd_sms_report)
    p = sub.add_parser("backup", help="back the database up to a new file (while it runs)")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="load a backup into the configured (empty) database")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_restore)
    p = sub.add_parser(
        "backup-media", help="copy every picture (media directory or bucket) into a directory"
    )
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_backup_media)
    p = sub.add_parser("restore-media", help="put a picture backup into the configured store")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_restore_media)
    p = sub.add_parser(
        "media-sizes", help="make the thumbnail and screen sizes of pictures stored without"
    )
    p.set_defaults(func=cmd_media_sizes)
    p = sub.add_parser("dev-link", help="a patient's page link for their latest referral (dev)")
    p.add_argument("--phone", required=True)
    p.set_defaults(func=cmd_dev_link)
    p = sub.add_parser("dev-token", help="a Firebase emulator ID token for a phone (dev only)")
    p.add_argument("--phone", required=True)
    p.set_defaults(func=cmd_dev_token)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
