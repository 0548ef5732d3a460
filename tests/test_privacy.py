"""What never leaves this machine: secrets and home paths (suite/privacy.py), and the UI bound to loopback."""
from tests.conftest import ROOT


def test_redact_masks_uri_credentials_secrets_and_home(monkeypatch):
    from suite.privacy import redact

    monkeypatch.setenv("HOME", "/home/ada")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-0123456789")
    assert redact("http://ada:pw@tracking.lab:5000") == "http://***@tracking.lab:5000"
    assert redact("token dapi-0123456789 here") == "token *** here"
    assert redact("/home/ada/runs/x") == "~/runs/x" and redact("/home/adam/x") == "/home/adam/x"


def test_the_docs_ui_command_binds_to_loopback():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    commands = [line for page in pages for line in page.read_text().splitlines() if line.lstrip().startswith("mlflow ui")]
    assert commands and all("--host 127.0.0.1" in c for c in commands)
