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

README = """# {name}

A shoal project made by `shoal new {name}`.

    python app.py                             # index two Documents and search, in-process
    shoal flow --uses flow.yml --port 12345   # serve the Flow (gRPC) until Ctrl-C
    shoal ping localhost:12345                # is it up?

From Python, while it is served:

    from shoal import Client, Document
    c = Client(port=12345)
    c.post('/index', [Document(text='hello, world')])
    print(c.post('/search', Document(text='hello'))[0].matches.texts)

`executor1/executor.py` holds the Executor; `flow.yml` chains executors (`executors:`), and
`shoal flow --uses flow.yml --protocol http` serves HTTP with OpenAPI docs at /docs.
"""

NEW_EPILOG = """examples:
  shoal new my-app && cd my-app && python app.py
  shoal flow --uses my-app/flow.yml --port 12345     serve it
"""

FILES = {
    "README.md": README,
    "app.py": APP,
    "flow.yml": FLOW,
    "executor1/config.yml": CONFIG,
    "executor1/executor.py": EXECUTOR,
    "executor1/requirements.txt": "shoal\n",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("new", help="create a project skeleton (app.py, flow.yml, executor1/)",
                       description="Creates NAME/ with app.py (the entry point), flow.yml, "
                                   "executor1/ (executor.py + config.yml) and a README saying "
                                   "how to run, serve and query it, like `jina new`.",
                       epilog=NEW_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
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
        path.write_text(text.replace("{name}", root.name) if rel == "README.md" else text)
    return root


def run(args: argparse.Namespace) -> int:
    root = create_project(args.name, args.force)
    print(f"created {root}/ - run it with: cd {root} && python app.py")
    return 0
