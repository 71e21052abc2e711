"""The implement exercise: the CDN's cache key and cacheability rule, graded by replays.

The learner writes ``cache_key(request)`` and ``cacheable(request, response)``.  The
replays: the room's normal traffic (every visitor must get the page the origin would
give them, and the hit ratio must stay within :data:`HIT_RATIO_SLACK` of the shipped
CDN's), then every attack over real HTTP - each must fail.  A failing attack shows
the request sequence that worked, and the probes below name the mistake behind it.
"""

from __future__ import annotations

from typing import Any

from ..errors import LabError
from ..exercises import Args, Scenario, Verdict
from .attacks import ATTACKS, Attack, insecure_hit_ratio, replay_traffic, run_attack
from .servers import Stack
from .web import Request, Response, by_extension, extension_of

__all__ = ["HIT_RATIO_SLACK", "cache_key", "cacheable", "scenarios", "MISTAKES", "ALTERNATIVES",
           "EQUIVALENT_MUTANTS", "SKELETON"]

HIT_RATIO_SLACK = 0.03

# -- the reference ------------------------------------------------------------------------------

IGNORED_PARAMS = ("utm_source", "utm_medium", "utm_campaign")   # the origin never reads these


def cache_key(request):
    """Everything the page depends on: host, path, the query the origin reads, the forwarded headers."""
    query = {k: v for k, v in request.query.items() if k not in IGNORED_PARAMS}
    return (request.host, request.path, tuple(sorted(query.items())),
            request.headers.get("x-forwarded-host"), request.headers.get("x-forwarded-scheme"))


def cacheable(request, response):
    """Shared only when the origin says so: public, and neither private nor no-store."""
    cc = response.cache_control
    return response.status == 200 and "public" in cc and "private" not in cc and "no-store" not in cc


# -- correct answers written differently ------------------------------------------------------


def _key_as_text(request):
    kept = sorted((k, v) for k, v in request.query.items() if not k.startswith("utm_") or k == "utm_content")
    return f"{request.host}{request.path}?{kept}"


def _never_cache_forwarded(request, response):
    if "x-forwarded-host" in request.headers or "x-forwarded-scheme" in request.headers:
        return False  # a request that carries a forwarded header gets a private answer
    directives = response.headers.get("cache-control", "").replace(" ", "").split(",")
    return response.status == 200 and "public" in directives and not {"private", "no-store"} & set(directives)


_TYPE_OF = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}


def _key_with_every_header(request):
    forwarded = tuple(sorted((k, v) for k, v in request.headers.items() if k.startswith("x-forwarded-")))
    query = tuple(sorted((k, v) for k, v in request.query.items() if k not in IGNORED_PARAMS))
    return request.host, request.path, query, forwarded


def _type_must_match(request, response):
    if "private" in response.cache_control or "no-store" in response.cache_control:
        return False
    ext = extension_of(request.path)
    if ext:  # a static-looking URL is stored only if the body really is that type
        return response.status == 200 and response.content_type == _TYPE_OF.get(ext)
    return response.status == 200 and "public" in response.cache_control


ALTERNATIVES = {
    "a text key, and no caching for forwarded headers": lambda: Args((_key_as_text, _never_cache_forwarded)),
    "every X-Forwarded-* header keyed, and the type checked": lambda: Args((_key_with_every_header,
                                                                          _type_must_match)),
}

# -- the mistakes a reviewer sends back ---------------------------------------------------------


def _path_only(request):
    return request.path


def _one_header_forgotten(request):
    query = {k: v for k, v in request.query.items() if k not in IGNORED_PARAMS}
    return request.host, request.path, tuple(sorted(query.items())), request.headers.get("x-forwarded-host")


def _private_when_signed_in(request, response):
    return "cookie" not in request.headers and cacheable(request, response)


def _ignores_private(request, response):
    return response.status == 200 and response.max_age > 0 and "no-store" not in response.cache_control


def _ignores_no_store(request, response):
    return response.status == 200 and "public" in response.cache_control and "private" not in response.cache_control


def _every_marketing_param(request):
    return request.host, request.path, tuple(sorted(request.query.items()))


MISTAKES = {
    "keying on the path only": lambda: Args((_path_only, cacheable)),
    "trusting the extension": lambda: Args((cache_key, by_extension)),
    "forgetting one unkeyed header": lambda: Args((_one_header_forgotten, cacheable)),
    "private on the wrong responses": lambda: Args((cache_key, _private_when_signed_in)),
    "ignoring private": lambda: Args((cache_key, _ignores_private)),
    "ignoring no-store": lambda: Args((cache_key, _ignores_no_store)),
    "keying on every marketing parameter": lambda: Args((_every_marketing_param, cacheable)),
}

EQUIVALENT_MUTANTS: dict[str, str] = {}

SKELETON = '''
def cache_key(request):
    """What identifies one stored copy: return a string or a tuple."""
    ...


def cacheable(request, response):
    """May this response be stored and served to everyone who sends the same key?"""
    ...
'''

# -- what the grader probes to name a mistake ------------------------------------------------

_PUBLIC = Response(200, {"content-type": "text/html", "cache-control": "public, max-age=60"}, "")
_PRIVATE = Response(200, {"content-type": "text/html", "cache-control": "public, max-age=60, private"}, "")
_NO_STORE = Response(200, {"content-type": "text/html", "cache-control": "public, max-age=60, no-store"}, "")
_SILENT = Response(200, {"content-type": "text/html"}, "")  # says nothing about caching


def _stores_what_it_must_not(rule, request: Request) -> str | None:
    """Which private kind of response ``rule`` stores for ``request``, if any."""
    for name, response in (("ignoring private", _PRIVATE), ("ignoring no-store", _NO_STORE),
                           ("storing a response that never said public", _SILENT)):
        if rule(request, response):
            return name
    return None


def _same_key(key, a: Request, b: Request) -> bool:
    return key(a) == key(b)


def _why_poisoned(key, attack: Attack) -> str:
    if _same_key(key, Request("/product", {"id": "1"}), Request("/product", {"id": "2"})):
        return "keying on the path only: the key leaves out the query and the host"
    if attack.unkeyed == "utm_content":
        return ("your key drops utm_content, which the page reflects: normalise away only "
                "the parameters the origin never reads")
    return (f"forgetting one unkeyed header: {attack.unkeyed} changes the page, your key leaves it out "
            "and your rule still stores the response")


def _why_deceived(rule, attack: Attack) -> str:
    lure = attack.steps[0].request
    wrong = _stores_what_it_must_not(rule, Request("/account/settings"))
    if wrong:
        return f"{wrong}: a page the origin kept from shared caches was stored for everyone"
    if _stores_what_it_must_not(rule, lure):
        return (f"trusting the extension: the URL ends in {extension_of(lure.path)}, but the response was "
                "Alice's private HTML page - decide by the response's headers and type, not the path")
    return "a private page was stored for everyone"


def _split(answer: Any) -> tuple[Any, Any]:
    if not isinstance(answer, Args) or len(answer) != 2 or not all(callable(f) for f in answer):
        raise LabError("Pass your two functions: ex.check(cache_key, cacheable).")
    return answer[0], answer[1]


def _normal_traffic(answer: Any) -> Verdict:
    key, rule = _split(answer)
    result, bar = replay_traffic(key, rule), insecure_hit_ratio()
    if result.wrong:
        request, served, truth = result.wrong[0]
        wrong = _stores_what_it_must_not(rule, Request("/account/settings"))
        if wrong:
            why = f"{wrong}: one visitor's own page was stored and served to others"
        elif _same_key(key, Request("/product", {"id": "1"}), Request("/product", {"id": "2"})):
            why = "keying on the path only: two pages that differ by host or query share one copy"
        else:
            why = "two requests the origin answers differently share one key"
        rows = [{"visitor asked for": f"{request.host}{request.url}", "cookie": request.headers.get("cookie", "-"),
                 "was served": served.body[:70] or str(served.status), "the origin says": truth.body[:70]}
                for request, served, truth in result.wrong[:6]]
        return Verdict(False, f"{len(result.wrong)} of {result.requests} ordinary visitors got another page "
                       f"than the origin's - {why}", rows)
    if result.hit_ratio < bar - HIT_RATIO_SLACK:
        if not rule(Request("/", headers={"host": "shop.example", "cookie": "session=alice"}), _PUBLIC):
            why = ("private on the wrong responses: a public page is not shared because the visitor sent "
                   "a cookie; only the origin's Cache-Control says what is private")
        elif not _same_key(key, Request("/", {"utm_source": "ads"}), Request("/", {"utm_source": "social"})):
            why = ("keying on every marketing parameter: utm_source and utm_campaign never change the page, "
                   "and each campaign link got its own copy")
        else:
            why = "your rules store too little"
        return Verdict(False, f"the hit ratio fell to {result.hit_ratio:.1%}, against {bar:.1%} for the shipped "
                       f"CDN (allowed: {HIT_RATIO_SLACK:.0%} less) - {why}",
                       [{"CDN": "shipped (insecure)", "hit ratio": f"{bar:.1%}"},
                        {"CDN": "yours", "hit ratio": f"{result.hit_ratio:.1%}"}])
    return Verdict(True, f"every visitor got the right page; hit ratio {result.hit_ratio:.1%} (shipped {bar:.1%})")


def _attack_fails(attack: Attack):
    def run(answer: Any) -> Verdict:
        key, rule = _split(answer)
        with Stack(key, rule) as stack:
            result = run_attack(attack, stack.send)
        if not result.succeeded:
            return Verdict(True, f"{attack.name} failed")
        why = _why_poisoned(key, attack) if attack.kind == "poisoning" else _why_deceived(rule, attack)
        reached = "the victim" if attack.kind == "poisoning" else "Alice's page"
        return Verdict(False, f"{attack.name} worked: this request sequence reached {reached} - {why}",
                       list(result.rows))

    return run


def scenarios() -> list[Scenario]:
    return [Scenario("the room's normal traffic", _normal_traffic)] + [
        Scenario(attack.name, _attack_fails(attack)) for attack in ATTACKS]

