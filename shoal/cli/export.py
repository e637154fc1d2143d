"""``shoal export kubernetes|docker-compose``: deployment files for a Flow YAML (Jina's
``jina export``)."""
from __future__ import annotations

import argparse
import os

from shoal.errors import BadInputError

__all__ = ["add_parser", "run_export"]

EPILOG = """\
examples:
  shoal export kubernetes flow.yml k8s/
      k8s/<executor>/<executor>.yml, k8s/gateway/gateway.yml and k8s/Dockerfile
  shoal export kubernetes flow.yml k8s/ --k8s-namespace search --image registry.io/me/app:1
      every pod runs that image, in namespace `search`
  shoal export docker-compose flow.yml docker-compose.yml
      one compose file (+ docker-compose.gateway-flow.yml and a Dockerfile next to it)

then build the image from your project folder (the Flow YAML's folder: the commands name
its files relative to it) and deploy:
  docker build -f k8s/Dockerfile -t registry.io/me/app:1 . && docker push registry.io/me/app:1
  kubectl create namespace search && kubectl apply -R -f k8s/
  docker build -f Dockerfile -t shoal:latest . && docker compose -f docker-compose.yml up
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``export`` (with ``kubernetes`` and ``docker-compose``) on ``shoal``."""
    p = sub.add_parser("export", help="write Kubernetes or Docker Compose files for a Flow YAML",
                       description="Writes the files that run a Flow YAML as one container per "
                                   "executor plus a gateway, like `jina export`.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    k8s = kinds.add_parser("kubernetes", help="one folder of manifests per deployment",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    k8s.add_argument("flow", metavar="FLOW_YML", help="the Flow YAML file")
    k8s.add_argument("output", metavar="OUT_DIR", help="folder to write the manifests into")
    k8s.add_argument("--k8s-namespace", default=None,
                     help="namespace of every object (default: the Flow's name, else default)")
    compose = kinds.add_parser("docker-compose", help="one Docker Compose file",
                               epilog=EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    compose.add_argument("flow", metavar="FLOW_YML", help="the Flow YAML file")
    compose.add_argument("output", metavar="OUT_YML", nargs="?", default="docker-compose.yml",
                         help="the compose file to write (default docker-compose.yml)")
    compose.add_argument("--network-name", default=None,
                         help="the compose network (default shoal-network)")
    for q in (k8s, compose):
        q.add_argument("--image", default="shoal:latest",
                       help="the image every container runs (default shoal:latest); build "
                            "it with the Dockerfile written next to the output")
        q.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Load the Flow YAML and write the files; prints each path written."""
    from shoal.cli.run import importable_from_cwd  # noqa: PLC0415
    from shoal.flow import Flow  # noqa: PLC0415

    if not os.path.isfile(args.flow):
        raise BadInputError(f"{args.flow}: no such file; give a Flow YAML path")
    importable_from_cwd()
    flow = Flow.load_config(args.flow)
    if args.kind == "kubernetes":
        paths = flow.to_kubernetes_yaml(args.output, k8s_namespace=args.k8s_namespace,
                                        image=args.image)
    else:
        paths = flow.to_docker_compose_yaml(args.output, network_name=args.network_name,
                                            image=args.image)
    for path in paths:
        print(path)
    return 0
