"""``shoal new NAME``: a project skeleton like ``jina new`` (app.py, executor1/)."""
from __future__ import annotations

import argparse
from pathlib import Path

from shoal.errors import BadInputError

APP = '''"""Entry point: run with `python app.py`."""
from shoal import Document, DocumentArray, Flow

if __name__ == "__main__":
    flow = Flow.load_config("flow.yml")
    with flow:
        flow.post("/index", DocumentArray([Document(text="hello, world"), Document(text="goodbye")]))
        results = flow.post("/search", Document(text="hello"))
        for match in results[0].matches:
            print(match.text, match.scores["cosine"].value)
'''

FLOW = '''jtype: Flow
executors:
  - name: executor1
    uses: executor1/config.yml
'''

CONFIG = '''jtype: MyExecutor
with:
  dim: 64
metas:
  name: executor1
  description: indexes Documents and finds the nearest ones
py_modules:
  - executor.py
'''

EXECUTOR = '''"""executor1: embeds text with a lexical encoder, indexes, searches."""
from shoal import DocumentArray, Executor, requests
from shoal.models import HashingEncoder


class MyExecutor(Executor):
    def __init__(self, dim: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.encoder = HashingEncoder(dim)
        self.index = DocumentArray()

    @requests(on="/index")
    def index_docs(self, docs: DocumentArray, **kwargs):
        docs.embed(self.encoder)
        self.index.extend(docs)

    @requests(on="/search")
    def search(self, docs: DocumentArray, parameters: dict, **kwargs):
        docs.embed(self.encoder)
        docs.match(self.index, limit=int(parameters.get("limit", 3)))
'''

FILES = {
    "app.py": APP,
    "flow.yml": FLOW,
    "executor1/config.yml": CONFIG,
    "executor1/executor.py": EXECUTOR,
    "executor1/requirements.txt": "shoal\n",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("new", help="create a project skeleton (app.py, flow.yml, executor1/)",
                       description="Creates NAME/ with app.py (the entry point), flow.yml and "
                                   "executor1/ (executor.py + config.yml), like `jina new`.")
    p.add_argument("name", help="directory to create")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=run)


def create_project(name: str, force: bool = False) -> Path:
    root = Path(name)
    if root.exists() and any(root.iterdir()) and not force:
        raise BadInputError(f"{root} exists and is not empty; pick another name or pass --force")
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def run(args: argparse.Namespace) -> int:
    root = create_project(args.name, args.force)
    print(f"created {root}/ - run it with: cd {root} && python app.py")
    return 0
