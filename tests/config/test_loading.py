"""Loading a config file: ${ENV} and *_file interpolation, unreadable files, `validate`.

Every refusal names its key path; a secret read from a file never appears in an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config.loading import ConfigError, load_config, parse_config
from tests.support.config_documents import (
    BROKEN_TOML,
    WARNING_TOML,
    document,
    errors_of,
    key_result,
    krtracker,
    objective,
)

# ---- interpolation: ${ENV}, $${escape} and *_file -------------------------------------


def test_env_variable_is_interpolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """`${VAR}` inside any string is replaced by the environment variable's value."""
    monkeypatch.setenv("KRT_TEST_DB", "postgresql://db.internal/okr")
    loaded = parse_config(document(database={"url": "${KRT_TEST_DB}"}))
    assert loaded.config.database.url == "postgresql://db.internal/okr"


def test_missing_env_variable_is_an_error_at_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset `${VAR}` is refused, naming the key that references it and the variable."""
    monkeypatch.delenv("KRT_TEST_UNSET", raising=False)
    raw = document(objective(key_result(title="Latency ${KRT_TEST_UNSET}")))
    problems = errors_of(raw)
    assert [(p.path, p.message) for p in problems] == [
        ("objectives[0].key_results[0].title", "environment variable KRT_TEST_UNSET is not set")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$${KRT_TEST_SET}", "${KRT_TEST_SET}"),
        ("a $${KRT_TEST_UNSET} b", "a ${KRT_TEST_UNSET} b"),
        ("${KRT_TEST_SET} and $${KRT_TEST_SET}", "value and ${KRT_TEST_SET}"),
        ("cost in $$ stays", "cost in $$ stays"),
    ],
)
def test_double_dollar_escapes_to_a_literal_reference(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    """`$${X}` becomes the literal text `${X}`, set or not, without an error."""
    monkeypatch.setenv("KRT_TEST_SET", "value")
    monkeypatch.delenv("KRT_TEST_UNSET", raising=False)
    loaded = parse_config(document(objective(description=text)))
    assert loaded.config.objectives[0].description == expected


def test_file_suffix_reads_the_secret_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`token_file` (its path interpolated) is read, stripped and held as a SecretStr `token`."""
    (tmp_path / "ci.token").write_text("s3cret-token-0123456789\n", encoding="utf-8")
    monkeypatch.setenv("KRT_TEST_SECRETS", str(tmp_path))
    raw = document(api={"tokens": [{"name": "ci", "token_file": "${KRT_TEST_SECRETS}/ci.token"}]})
    token = parse_config(raw).config.api.tokens[0].token
    assert token.get_secret_value() == "s3cret-token-0123456789"
    assert "s3cret" not in repr(token)


def test_missing_secret_file_is_an_error_at_its_key(tmp_path: Path) -> None:
    """A `*_file` that cannot be read is refused at the `*_file` key, naming the file."""
    missing = tmp_path / "nope.token"
    problems = errors_of(document(api={"tokens": [{"name": "ci", "token_file": str(missing)}]}))
    at_file = [p for p in problems if p.path == "api.tokens[0].token_file"]
    assert len(at_file) == 1 and str(missing) in at_file[0].message


def test_value_and_file_variant_together_is_an_error(tmp_path: Path) -> None:
    """Giving both `token` and `token_file` is refused at `token_file`."""
    secret = tmp_path / "ci.token"
    secret.write_text("s3cret-token-0123456789", encoding="utf-8")
    raw = document(api={"tokens": [{"name": "ci", "token": "x" * 20, "token_file": str(secret)}]})
    problems = errors_of(raw)
    assert [(p.path, p.message) for p in problems] == [
        ("api.tokens[0].token_file", "give either token or token_file")
    ]


def test_secret_from_a_file_never_appears_in_errors(tmp_path: Path) -> None:
    """A secret that fails validation (too short) is not repeated in the error text."""
    secret = tmp_path / "ci.token"
    secret.write_text("hunter2", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse_config(document(api={"tokens": [{"name": "ci", "token_file": str(secret)}]}))
    assert "api.tokens[0].token" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_load_config_reports_the_path_from_a_file(tmp_path: Path) -> None:
    """`load_config` refuses a TOML file with the KR path of the error."""
    path = tmp_path / "okrs.toml"
    path.write_text(BROKEN_TOML, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [p.path for p in caught.value.problems] == ["objectives[1].key_results[0].target"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("[[objectives]\nid = 1", "not valid TOML"), (None, "cannot read")],
)
def test_unreadable_or_malformed_file_is_refused(
    tmp_path: Path, text: str | None, fragment: str
) -> None:
    """A missing file or broken TOML raises ConfigError, not an OSError or a parser error."""
    path = tmp_path / "okrs.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert fragment in str(caught.value)


def test_cli_validate_exits_2_and_prints_the_key_path(tmp_path: Path) -> None:
    """`krtracker validate` on a broken file exits 2 and prints the error with its key path."""
    path = tmp_path / "okrs.toml"
    path.write_text(BROKEN_TOML, encoding="utf-8")
    result = krtracker("validate", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "error: objectives[1].key_results[0].target: target equals baseline" in output


def test_cli_validate_exits_0_and_prints_warnings(tmp_path: Path) -> None:
    """`krtracker validate` on a file with only warnings exits 0 and prints each warning."""
    path = tmp_path / "okrs.toml"
    path.write_text(WARNING_TOML, encoding="utf-8")
    result = krtracker("validate", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning: objectives[0].key_results[0]: has neither a data source" in output
    assert "1 warning(s)" in output


def test_cli_prints_messages_with_brackets_verbatim(tmp_path: Path) -> None:
    """A message containing `[low, high]` is printed as written, not parsed as rich markup."""
    path = tmp_path / "okrs.toml"
    path.write_text(
        BROKEN_TOML.replace(
            'direction = "increase"\nbaseline = 99.5\ntarget = 99.5', 'direction = "within"'
        ),
        encoding="utf-8",
    )
    result = krtracker("validate", str(path))
    assert result.returncode == 2
    assert "needs band = [low, high]" in result.stdout + result.stderr
