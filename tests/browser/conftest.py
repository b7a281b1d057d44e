"""Browser tests: Playwright for Python driving Debian's Chromium (never a downloaded browser).

Without /usr/bin/chromium or the `playwright` package these tests skip and say what to install,
unless RNNCOURSE_REQUIRE_BROWSER=1 (set by .ci/run): then they fail.
Screenshots of every step go to $RNNCOURSE_SCREENSHOTS (default: a pytest temporary folder).
"""
import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# As root Chromium needs --no-sandbox; the rest keep it from reaching outside hosts at start-up.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
INSTALL_HINT = ("install Debian's Chromium (`apt-get install chromium`) and the browser-test extra "
                "(`pip install -e '.[browser]'`); never `playwright install`")


def _missing():
    """What is missing for the browser tests, or '' if nothing is."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} not found")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright is not installed")
    return "; ".join(missing)


def pytest_collection_modifyitems(config, items):
    """Every test here is slow (`make test-fast` leaves them out)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Debian's) for the whole session, closed at the end."""
    missing = _missing()
    if missing:
        message = f"browser tests: {missing}; {INSTALL_HINT}"
        if os.environ.get("RNNCOURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (RNNCOURSE_REQUIRE_BROWSER=1 requires them)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    """The folder that receives the screenshots of every step."""
    folder = os.environ.get("RNNCOURSE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
