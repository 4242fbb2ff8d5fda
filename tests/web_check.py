"""The web page in a real browser (Debian's Chromium, driven by Selenium), against a running
`serve`: every page, compared with what the JSON API answers, at desktop and phone sizes, in
English and French, with axe-core run in each page.

Usage: python web_check.py BASE_URL TOKEN AXE_JS SCREENSHOT_DIR
Prints one `ok:` line per check; exits non-zero at the first failure.
"""

import json
import sys
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, TOKEN, AXE, SHOTS = sys.argv[1], sys.argv[2], Path(sys.argv[3]).read_text(), Path(sys.argv[4])
SHOTS.mkdir(parents=True, exist_ok=True)
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def api(path, body=None):
    request = urllib.request.Request(BASE + path, headers={"Accept": "application/json"})
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    return json.load(urllib.request.urlopen(request, timeout=10))


def collation_key(text):
    """Roughly the browser's `localeCompare`: accents and case set aside."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def ok(message):
    print(f"ok: {message}", flush=True)


options = Options()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=en-US"):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
# The page redraws a list as its results arrive: an element found a moment before may be
# gone, and a wait tries again instead of failing.
wait = WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,))


def click(locator):
    """Clicks what `locator` finds once it can be clicked, found afresh on each try, so that a
    redraw between the find and the click is tried again."""

    def clicked(d):
        element = EC.element_to_be_clickable(locator)(d)
        if element:
            element.click()
        return bool(element)

    wait.until(clicked)


def size(name):
    width, height = SIZES[name]
    driver.set_window_size(width, height)
    # The viewport, not the window, is what the layout sees; fix it exactly. (Not as a
    # "mobile" device: its emulated visual viewport shifts WebDriver's clicks; the layout
    # depends on the width alone.)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def visit(hash_route, ready_css):
    driver.get(f"{BASE}/{hash_route}")
    return wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ready_css)))


def no_overflow(where):
    width = driver.execute_script("return document.documentElement.scrollWidth")
    viewport = driver.execute_script("return window.innerWidth")
    assert width <= viewport + 1, f"{where}: the page is {width} px wide in a {viewport} px viewport"


def axe(where):
    driver.execute_script(AXE)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations)).catch(e => done([{id: 'axe', impact: 'critical', help: String(e)}]));")
    bad = [f"{v['id']} ({v['impact']}): {v['help']}" for v in result if v.get("impact") in ("serious", "critical")]
    assert not bad, f"{where}: axe-core: {bad}"


def shot(name):
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def rows(table_css):
    return driver.find_elements(By.CSS_SELECTOR, f"{table_css} tbody tr")


try:
    users = api("/users?limit=1000")["users"]
    named = next(u for u in users if u.get("name") and u["known_to_model"] and u["n_ratings"] >= 5)

    for size_name in SIZES:
        size(size_name)

        # The JSON root still answers API clients at the same address.
        root = api("/")
        assert root["service"] == "movierec" and root["model"], root

        # Users: search by name.
        box = visit("#/users", "#user-search")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "main table tbody tr")))
        axe(f"users ({size_name})")
        box = driver.find_element(By.ID, "user-search")
        box.clear()
        box.send_keys(named["name"], Keys.ENTER)
        click((By.XPATH, f"//main//a[@href='#/users/{urllib.parse.quote(named['id'])}']"))
        ok(f"{size_name}: the user search finds {named['name']!r} by name")

        # The user's page: their top 10 equal the API's, in order, with why.
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#recs-h ~ .table-wrap tbody tr")))
        expected = api(f"/users/{urllib.parse.quote(named['id'])}/recommendations?n=10&explain=3")["recommendations"]
        shown = driver.find_elements(By.CSS_SELECTOR, "#recs-h ~ .table-wrap tbody tr")
        assert len(shown) == 10, len(shown)
        for row, rec in zip(shown, expected):
            cells = row.find_elements(By.TAG_NAME, "td")
            assert cells[0].text.strip() == str(rec["rank"]), (cells[0].text, rec)
            href = cells[1].find_element(By.TAG_NAME, "a").get_attribute("href")
            assert href.endswith("#/movies/" + urllib.parse.quote(rec["movie_id"])), (href, rec)
            assert f"{rec['score']:.1f}" in cells[6].text.replace(",", "."), (cells[6].text, rec["score"])
            whys = cells[7].find_elements(By.TAG_NAME, "li")
            assert len(whys) == len(rec["because"]), (cells[7].text, rec["because"])
        ok(f"{size_name}: the user's 10 recommendations are the API's, in order, with their relevance and why")
        no_overflow(f"user page ({size_name})")
        axe(f"user page ({size_name})")
        shot(f"user-{size_name}")

        # Ratings sort by title: by the column header on a desktop, by the menu on a phone.
        if size_name == "desktop":
            for _ in range(2):
                driver.find_element(By.XPATH, "//th[.//button[contains(@aria-label, 'Title')]]//button").click()
            th = driver.find_element(By.XPATH, "//th[.//button[contains(@aria-label, 'Title')]]")
            assert th.get_attribute("aria-sort") == "ascending", th.get_attribute("aria-sort")
        else:
            Select(driver.find_element(By.ID, "rating-sort")).select_by_value("title:ascending")
        titles = [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows("#rated-h ~ div")]
        assert len(titles) >= 2 and titles == sorted(titles, key=collation_key), titles[:8]
        ok(f"{size_name}: the user's ratings sort by title")

        # A movie's page.
        first = expected[0]
        visit(f"#/movies/{urllib.parse.quote(first['movie_id'])}", "dl.facts")
        movie = api(f"/movies/{urllib.parse.quote(first['movie_id'])}")
        assert driver.find_element(By.TAG_NAME, "h1").text == (movie["title"] or movie["id"])
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#similar-h ~ .table-wrap tbody tr")))
        similar = api(f"/movies/{urllib.parse.quote(first['movie_id'])}/similar?n=10")["similar"]
        shown = rows("#similar-h ~ .table-wrap")
        assert len(shown) == len(similar), (len(shown), len(similar))
        ok(f"{size_name}: a movie's page shows its details and its similar movies, as the API does")
        no_overflow(f"movie page ({size_name})")
        axe(f"movie page ({size_name})")

        # A new visitor rates three movies and gets recommendations at once.
        visit("#/visitor", "#movie-search")
        movies = [m for m in api("/movies?limit=50")["movies"] if m["known_to_model"] and m["title"]][:3]
        ratings = []
        for m, score in zip(movies, (90, 20, 70)):
            box = driver.find_element(By.ID, "movie-search")
            box.clear()
            box.send_keys(m["title"], Keys.ENTER)
            field = wait.until(EC.presence_of_element_located((By.ID, f"rate-{m['id']}")))
            field.clear()
            field.send_keys(str(score))
            field.find_element(By.XPATH, "following-sibling::button").click()
            ratings.append({"movie_id": m["id"], "score": score})
        click((By.ID, "recommend"))
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "section[aria-live] tbody tr")))
        expected = api("/recommendations", {"ratings": ratings, "n": 10})["recommendations"]
        shown = rows("section[aria-live]")
        got = [r.find_elements(By.TAG_NAME, "td")[1].find_element(By.TAG_NAME, "a").get_attribute("href").split("#/movies/")[1] for r in shown]
        assert got == [urllib.parse.quote(r["movie_id"]) for r in expected], (got, expected)
        ok(f"{size_name}: a new visitor rates three movies and gets the API's 10 recommendations")
        no_overflow(f"visitor page ({size_name})")
        axe(f"visitor page ({size_name})")
        shot(f"visitor-{size_name}")

        # The model, and a refresh: refused without the token, done with it.
        visit("#/model", "dl.facts")
        assert root["model"]["ranking"]["kind"] in driver.find_element(By.TAG_NAME, "main").text
        assert root["model"]["algorithm"] in driver.find_element(By.TAG_NAME, "main").text
        driver.execute_script("sessionStorage.removeItem('movierec.token')")
        token = driver.find_element(By.ID, "token")
        token.clear()
        driver.find_element(By.ID, "refresh").click()
        refused = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".panel .error")))
        assert "token" in refused.text.lower(), refused.text
        token.send_keys(TOKEN)
        driver.find_element(By.ID, "refresh").click()
        done = wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".panel [role=status]"), "Reloaded"))
        ok(f"{size_name}: the model page: a refresh is refused without the token and done with it")
        if size_name == "desktop":
            space = driver.find_element(By.ID, "space")
            space.send_keys('{"n_factors": [4, 6], "n_epochs": [2]}')
            cv = driver.find_element(By.ID, "cv")
            cv.clear()
            cv.send_keys("2")
            driver.find_element(By.ID, "gridsearch").click()
            wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".panel [role=status]"), "succeeded"))
            status = driver.find_element(By.CSS_SELECTOR, ".panel [role=status]").text
            assert "(4/4)" in status and "rmse" in status, status
            progress = driver.find_element(By.CSS_SELECTOR, ".panel progress")
            assert progress.get_attribute("value") == progress.get_attribute("max") == "4", progress.get_attribute("value")
            ok("desktop: a grid search started from the page runs to the end, its progress shown")
            # Another of Surprise's algorithms: the same box holds its param_grid.
            first = status.split(":")[0]
            Select(driver.find_element(By.ID, "algorithm")).select_by_value("knn_basic")
            space.clear()
            space.send_keys('{"k": [5, 10], "sim_options": {"user_based": [false]}}')
            driver.find_element(By.ID, "gridsearch").click()
            wait.until(lambda d: (lambda s: not s.startswith(first + ":") and "succeeded" in s)(
                d.find_element(By.CSS_SELECTOR, ".panel [role=status]").text))
            status = driver.find_element(By.CSS_SELECTOR, ".panel [role=status]").text
            assert "(4/4)" in status and "rmse" in status, status
            ok("desktop: a grid search of the item-based k-NN (its param_grid) runs to the end from the page")
        no_overflow(f"model page ({size_name})")
        axe(f"model page ({size_name})")

    # French labels, and a phone-width layout that holds with them.
    size("phone")
    visit("#/users", "#user-search")
    select = driver.find_element(By.ID, "lang")
    select.send_keys("Français")
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Utilisateurs"))
    assert driver.execute_script("return document.documentElement.lang") == "fr"
    driver.get(f"{BASE}/#/users/{urllib.parse.quote(named['id'])}")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#recs-h ~ .table-wrap tbody tr")))
    no_overflow("user page in French (phone)")
    axe("user page in French (phone)")
    shot("user-phone-fr")
    ok("French labels, and the phone layout holds with them")
except Exception:
    # What the page showed when it failed, for the test's output.
    shot("failure")
    print("the page at failure:", driver.current_url, driver.find_element(By.TAG_NAME, "main").text[:2000], sep="\n", file=sys.stderr)
    raise
finally:
    driver.quit()
