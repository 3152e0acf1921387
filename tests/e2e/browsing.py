"""Browser helpers for the portal's accessibility tests: sign in, switch language, fill or
empty a form and send it, measure sideways scrolling, check a focused control's focus ring."""
from __future__ import annotations

import os
import re

TEXT_CONTROLS = ("input:not([type]), input[type=text], input[type=email], input[type=password], "
                 "input[type=date], input[type=number], input[type=tel], textarea")


def shot(page, name: str) -> None:
    """A full-page screenshot for a person to look at, when PORTAL_SHOTS names a folder."""
    folder = os.environ.get("PORTAL_SHOTS")
    if folder:
        name = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def use_language(page, lang: str) -> None:
    """Switch the portal to `lang` with the header's language button (if not already in it)."""
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.locator("form.lang button").click()
    assert page.locator("html").get_attribute("lang") == lang


def sign_in(page, base: str, username: str, password: str, lang: str) -> None:
    page.goto(f"{base}/portal/login")
    use_language(page, lang)
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.press("#password", "Enter")
    assert "/portal/home" in page.url, page.url
    use_language(page, lang)  # signing in applies the account's language


def sign_out(page) -> None:
    with page.expect_navigation():
        page.locator("nav button", has_text=("Esci", "Sign out")[page.locator("html").get_attribute("lang") == "en"]).click()


def staff_sign_out(page, base: str) -> None:
    """Sign out of the back office: the confirmation page's button (sign-out is a POST)."""
    page.goto(f"{base}/logout/")
    button = page.locator("form.logout-confirm button[type=submit]")
    if button.count():
        with page.expect_navigation():
            button.click()


def staff_sign_in(page, base: str, user, password: str) -> None:
    """Sign in to the back office as `user` (after signing out whoever was in)."""
    staff_sign_out(page, base)
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()


def fill(page, values: dict[str, str], form: str = "main form.card") -> None:
    for selector, value in values.items():
        page.locator(f"{form} {selector}").fill(value)


def submit(page, form: str = "main form.card", empty: bool = False) -> None:
    """Send `form` (emptied first when `empty`) and wait for the answer."""
    if empty:
        controls = page.locator(f"{form} :is({TEXT_CONTROLS})")
        for i in range(controls.count()):
            if controls.nth(i).is_visible():
                controls.nth(i).fill("")
    with page.expect_navigation():
        page.locator(f"{form} button[type=submit]").last.click()


def sideways_overflow(page) -> int:
    """How many CSS pixels the page scrolls sideways (0 = none)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


FOCUS_STYLE_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const cs = getComputedStyle(el);
  let bgEl = parseFloat(cs.outlineOffset) >= 0 && cs.outlineStyle !== 'none' ? el.parentElement : el;
  let bg = null;
  for (let n = bgEl; n; n = n.parentElement) {
    const c = getComputedStyle(n).backgroundColor;
    if (c && c !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(c)) { bg = c; break; }
  }
  return {tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || el.value || '').slice(0, 40),
          outlineStyle: cs.outlineStyle, outlineWidth: cs.outlineWidth, outlineColor: cs.outlineColor,
          boxShadow: cs.boxShadow, background: bg || 'rgb(255, 255, 255)'};
}"""


def _rgb(css: str) -> tuple[float, float, float]:
    inner = css[css.index("(") + 1:css.index(")")]
    parts = [float(p) for p in inner.replace("/", ",").replace(" ", ",").split(",") if p]
    return parts[0], parts[1], parts[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""
    def lum(rgb):
        chans = [c / 255 for c in rgb]
        chans = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in chans]
        return 0.2126 * chans[0] + 0.7152 * chans[1] + 0.0722 * chans[2]
    hi, lo = sorted((lum(_rgb(a)), lum(_rgb(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def focus_problem(page) -> str | None:
    """None when the focused control shows a ring (outline or box-shadow) of at least 2 px
    whose colour has at least 3:1 contrast with the background around it; else what is wrong."""
    s = page.evaluate(FOCUS_STYLE_JS)
    if s is None:
        return "nothing focused"
    rings = []
    if s["outlineStyle"] not in ("none", "hidden") and float(s["outlineWidth"].rstrip("px") or 0) >= 2:
        rings.append(s["outlineColor"])
    shadow = s["boxShadow"]
    if shadow and shadow != "none":
        # "rgb(r, g, b) 0px 0px 0px 3px": colour first, spread last
        colour = shadow[:shadow.index(")") + 1]
        lengths = [float(x.rstrip("px")) for x in shadow[shadow.index(")") + 1:].split(",")[0].split()
                   if x.endswith("px")]
        if lengths and max(lengths[2:] or [0]) >= 2:
            rings.append(colour)
    if not rings:
        return f"{s['tag']}#{s['id']} '{s['text']}': no focus ring of 2 px or more"
    best = max(contrast(c, s["background"]) for c in rings)
    if best < 3:
        return f"{s['tag']}#{s['id']} '{s['text']}': focus ring contrast {best:.2f}:1 on {s['background']}"
    return None
