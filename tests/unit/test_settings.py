"""Settings from the environment; production refuses development-only settings."""

import pytest

from backend.settings import SettingsError, load_settings

PROD_OK = {
    "PLANTRACK_ENV": "prod",
    "PLANTRACK_SECRET_KEY": "s" * 48,
    "PLANTRACK_DATABASE_URL": "postgresql://plantrack@db/plantrack",
    "PLANTRACK_PUBLIC_URL": "https://plantrack.example.org",
}


def test_dev_defaults_to_sqlite_under_var_and_generates_a_secret_once(tmp_path):
    env = {"PLANTRACK_VAR_DIR": str(tmp_path)}
    first = load_settings(env)
    assert first.database_url == f"sqlite:///{tmp_path}/plantrack.sqlite3"
    assert first.secret_key_generated and len(first.secret_key) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert load_settings(env).secret_key == first.secret_key


def test_numbers_are_parsed_and_bad_ones_named(tmp_path):
    settings = load_settings({"PLANTRACK_VAR_DIR": str(tmp_path), "PLANTRACK_PORT": "9000"})
    assert settings.port == 9000
    with pytest.raises(SettingsError, match="PLANTRACK_PORT"):
        load_settings({"PLANTRACK_VAR_DIR": str(tmp_path), "PLANTRACK_PORT": "lots"})


def test_production_starts_with_proper_settings():
    assert load_settings(PROD_OK).env == "prod"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"PLANTRACK_SECRET_KEY": ""}, "PLANTRACK_SECRET_KEY is required"),
        ({"PLANTRACK_SECRET_KEY": "short"}, "at least 32"),
        ({"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}, "FIREBASE_AUTH_EMULATOR_HOST"),
        ({"PLANTRACK_DATABASE_URL": "sqlite:///var/x.sqlite3"}, "PostgreSQL in production"),
        ({"PLANTRACK_PUBLIC_URL": "http://plantrack.example.org"}, "PLANTRACK_PUBLIC_URL"),
        ({"PLANTRACK_FIREBASE_CERTS_URL": "http://certs.example"}, "PLANTRACK_FIREBASE_CERTS_URL"),
    ],
)
def test_production_refuses_development_settings(change, complaint):
    with pytest.raises(SettingsError, match=complaint):
        load_settings({**PROD_OK, **change})


def test_unknown_database_scheme_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="PLANTRACK_DATABASE_URL"):
        load_settings({"PLANTRACK_VAR_DIR": str(tmp_path), "PLANTRACK_DATABASE_URL": "mysql://x"})


def test_repr_hides_the_secret_and_the_password():
    settings = load_settings({**PROD_OK, "PLANTRACK_DATABASE_URL": "postgresql://u:hunter2@db/p"})
    assert "hunter2" not in repr(settings) and "s" * 48 not in repr(settings)


def test_pictures_go_to_an_object_store_named_by_an_s3_url(tmp_path):
    from backend.runtime.media_files import LocalMediaFiles, S3MediaFiles, media_files_from

    env = {"PLANTRACK_VAR_DIR": str(tmp_path)}
    assert isinstance(media_files_from(load_settings(env)), LocalMediaFiles)
    settings = load_settings(
        {
            **env,
            "PLANTRACK_MEDIA_URL": "s3://clinic-pictures/plantrack/media",
            "AWS_ENDPOINT_URL": "https://storage.yandexcloud.net",
            "AWS_ACCESS_KEY_ID": "key-id",
            "AWS_SECRET_ACCESS_KEY": "key-secret",
            "AWS_REGION": "ru-central1",
        }
    )
    files = media_files_from(settings)
    assert isinstance(files, S3MediaFiles)
    assert (files.bucket, files.prefix) == ("clinic-pictures", "plantrack/media")
    assert files.origin == "https://storage.yandexcloud.net"  # what pages allow images from
    assert "key-secret" not in repr(settings)
    for bad in ("https://bucket/x", "s3://", "s3://ab/x", "/var/media"):
        with pytest.raises(SettingsError, match="PLANTRACK_MEDIA_URL"):
            load_settings({**env, "PLANTRACK_MEDIA_URL": bad})
    with pytest.raises(SettingsError, match="AWS_ENDPOINT_URL"):
        load_settings(
            {**PROD_OK, "PLANTRACK_MEDIA_URL": "s3://b-1", "AWS_ENDPOINT_URL": "http://minio:9000"}
        )
