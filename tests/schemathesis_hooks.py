"""What Schemathesis cannot make from the document alone: pictures, and idempotency keys
that name one request each. The upload route says its `file` part is image/jpeg,
image/png or image/webp (an `encoding` in the document); these strategies draw real,
small images of each kind, so the fuzzer's valid cases are pictures the API can take.
Loaded with SCHEMATHESIS_HOOKS=tests.schemathesis_hooks by
tests/service/test_fuzz_openapi.py."""

import hashlib
import io
import json
import re

import schemathesis
from hypothesis import strategies as st
from PIL import Image

from backend.web.idempotency import KEY_PATTERN


def pictures(kind: str) -> st.SearchStrategy[bytes]:
    @st.composite
    def draw_picture(draw: st.DrawFn) -> bytes:
        size = (draw(st.integers(1, 48)), draw(st.integers(1, 48)))
        color = draw(st.tuples(*(st.integers(0, 255) for _ in range(3))))
        out = io.BytesIO()
        Image.new("RGB", size, color).save(out, format=kind)
        return out.getvalue()

    return draw_picture()


schemathesis.openapi.media_type("image/png", pictures("PNG"))
schemathesis.openapi.media_type("image/jpeg", pictures("JPEG"), aliases=("image/jpg",))
schemathesis.openapi.media_type("image/webp", pictures("WEBP"))


# An Idempotency-Key names one request: the API refuses (422) a key sent before with
# another body, which the document can say only in words. The fuzzer draws few distinct
# keys and reuses them across bodies; each valid key it sends is made the key of this
# request (the drawn key and a hash of the request), so a repeated case still meets
# its kept answer, and a malformed key still goes out as drawn.
KEY_HEADER = "Idempotency-Key"


@schemathesis.hook
def before_call(ctx, case, **kwargs) -> None:
    key = (case.headers or {}).get(KEY_HEADER)
    if not isinstance(key, str) or not re.fullmatch(KEY_PATTERN, key):
        return
    request = json.dumps(
        [case.method, case.formatted_path, case.query, case.body], sort_keys=True, default=str
    )
    case.headers[KEY_HEADER] = f"{key[:180]}:{hashlib.sha256(request.encode()).hexdigest()}"
