"""What Schemathesis cannot make from the document alone: pictures. The upload route
says its `file` part is image/jpeg, image/png or image/webp (an `encoding` in the
document); these strategies draw real, small images of each kind, so the fuzzer's valid
cases are pictures the API can take. Loaded with SCHEMATHESIS_HOOKS=tests.schemathesis_hooks
by tests/service/test_fuzz_openapi.py."""

import io

import schemathesis
from hypothesis import strategies as st
from PIL import Image


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
