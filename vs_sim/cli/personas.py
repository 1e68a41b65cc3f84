"""``vs-sim personas list|render`` and ``vs-sim population sample``.

Template folders come from ``--path`` (repeatable), then ``VS_SIM_PERSONAS_PATH``,
then the built-in ``personas/`` folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..personas import PersonaLibrary


def register(sub: Any) -> None:
    personas = sub.add_parser(
        "personas",
        help="list and render persona templates",
        description="List and render the persona templates on the search path.",
    )
    psub = personas.add_subparsers(dest="personas_command", metavar="SUBCOMMAND", required=True)
    listing = psub.add_parser("list", help="the templates, their descriptions and attributes")
    _add_path(listing)
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=run_list)

    render = psub.add_parser("render", help="render one template with attributes")
    render.add_argument("template", help="template name, e.g. survey_respondent")
    render.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an attribute value (repeatable), e.g. --set age=34",
    )
    _add_path(render)
    render.set_defaults(handler=run_render)

    population = sub.add_parser(
        "population",
        help="sample personas from a population file",
        description="Sample personas from a population spec (YAML).",
    )
    posub = population.add_subparsers(
        dest="population_command", metavar="SUBCOMMAND", required=True
    )
    sample = posub.add_parser("sample", help="sample N personas with a seed")
    sample.add_argument(
        "spec", help="a population YAML file, or a built-in name: us_adults, p4g_persuadees"
    )
    sample.add_argument("-n", type=int, default=5, help="how many personas (default 5)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.add_argument("--report", action="store_true", help="print shares against the targets")
    sample.add_argument("--json", action="store_true", help="print JSON (personas with prompts)")
    sample.add_argument("--prompts", action="store_true", help="print each rendered prompt")
    _add_path(sample)
    sample.set_defaults(handler=run_sample)


def _add_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of persona templates searched before the built-ins (repeatable)",
    )


def _library(paths: list[str]) -> PersonaLibrary:
    from ..personas import PersonaLibrary, default_search_path

    return PersonaLibrary([*(Path(p) for p in paths), *default_search_path()])


def _parse_sets(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"expected NAME=VALUE, got {pair!r}", where="--set")
        values[name.strip()] = value
    return values


def _console() -> Any:
    from rich.console import Console

    width = int(os.environ.get("COLUMNS", "0") or 0) or 120
    return Console(file=sys.stdout, width=width, markup=False, highlight=False)


def run_list(args: argparse.Namespace) -> int:
    library = _library(args.path)
    templates = [library.get(name) for name in library.names()]
    if args.json:
        out = [
            {
                "name": t.name,
                "description": t.description,
                "path": str(t.path),
                "attributes": {
                    n: {**s.model_dump(exclude={"name"}), "required": s.required}
                    for n, s in t.attributes.items()
                },
            }
            for t in templates
        ]
        print(json.dumps(out, indent=2, default=str))
        return 0
    from rich.table import Table

    table = Table(title="Persona templates (* required)")
    table.add_column("name", no_wrap=True)
    table.add_column("description")
    table.add_column("attributes")
    for t in templates:
        attributes = ", ".join(f"{n}*" if s.required else n for n, s in t.attributes.items())
        table.add_row(t.name, t.description, attributes)
    _console().print(table)
    return 0


def run_render(args: argparse.Namespace) -> int:
    library = _library(args.path)
    print(library.render(args.template, _parse_sets(args.set)))
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from ..population import Population, find_population

    population = Population.from_yaml(find_population(args.spec))
    personas = population.sample(args.n, seed=args.seed)
    library = _library(args.path)
    prompts = population.render(personas, library)
    report = population.report(personas) if args.report else None
    if args.json:
        out: dict[str, Any] = {
            "spec": args.spec,
            "template": population.template,
            "seed": args.seed,
            "personas": [
                {**p.model_dump(), "prompt": prompt} for p, prompt in zip(personas, prompts)
            ],
        }
        if report is not None:
            out["report"] = [r.model_dump() for r in report.rows]
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    console = _console()
    if args.prompts:
        for persona, prompt in zip(personas, prompts):
            console.rule(persona.id)
            console.print(prompt, markup=False, highlight=False)
    else:
        from rich.table import Table

        table = Table(title=f"{args.n} personas from {args.spec} (seed {args.seed})")
        table.add_column("id", no_wrap=True)
        names = population.persona_attributes
        for name in names:
            table.add_column(name)
        for persona in personas:
            table.add_row(persona.id, *(_cell(persona.attributes.get(n)) for n in names))
        console.print(table)
    if report is not None:
        console.print(report.to_table())
    return 0


def _cell(value: Any) -> str:
    return "–" if value is None else str(value)
