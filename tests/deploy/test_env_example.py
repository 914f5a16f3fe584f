"""Every setting the code reads is documented: in .env.example and in the README's table."""

from tests.servers import ROOT

from .conftest import ENV_EXAMPLE, env_example, settings_variables


def test_every_variable_the_settings_read_is_in_env_example():
    documented = set(env_example(include_commented=True))
    missing = settings_variables() - documented
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_the_settings_scan_finds_what_it_should():
    # Guards the scan itself: a regex that found nothing would pass the test above.
    found = settings_variables()
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ADMIN_URL"} <= found
    assert len(found) > 30


def test_anymail_keys_are_documented_as_a_prefix():
    # The settings pass every ANYMAIL_* variable to anymail, so no scan can list them.
    text = ENV_EXAMPLE.read_text()
    assert "every ANYMAIL_* variable is passed to anymail" in text
    assert "ANYMAIL_WEBHOOK_SECRET" in env_example(include_commented=True)


def test_required_values_are_left_blank_not_filled_with_a_usable_secret():
    values = env_example()
    assert values["DJANGO_SECRET_KEY"] == ""
    assert values["POSTGRES_PASSWORD"] == ""


def test_the_readme_configuration_table_lists_every_variable():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") :]
    table = table[: table.index("\n## ")]
    missing = {name for name in settings_variables() if f"`{name}`" not in table}
    assert not missing, f"the README's configuration table lacks {sorted(missing)}"


def test_env_example_documents_nothing_that_nothing_reads():
    compose = (ROOT / "docker-compose.yml").read_text()
    launcher = (ROOT / "config" / "run.py").read_text()
    read = settings_variables()
    dead = {
        name
        for name in env_example(include_commented=True)
        if name not in read
        and not name.startswith("ANYMAIL_")  # passed to anymail as a group
        and f"${{{name}" not in compose  # compose's own (POSTGRES_*, ports, concurrency)
        and name not in launcher  # make run's (DJANGO_SUPERUSER_*)
        and name != "DJANGO_SETTINGS_MODULE"  # read by manage.py, wsgi.py and celery.py
    }
    assert not dead, f".env.example documents variables nothing reads: {sorted(dead)}"
