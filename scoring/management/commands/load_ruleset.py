import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scoring.rulesets import RuleSetInvalid, ruleset_warnings
from scoring.services import load_ruleset


class Command(BaseCommand):
    help = "Load a rule-set JSON file as a draft (contract §1); --publish makes it active."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--publish", action="store_true", help="Publish and rescore.")

    def handle(self, *args, file: Path, publish: bool, **options):
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except FileNotFoundError as error:
            raise CommandError(f"{file}: no such file.") from error
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: not valid JSON ({error}).") from error
        if not isinstance(data, dict):
            raise CommandError(f"{file}: the rule set must be a JSON object.")
        try:
            ruleset = load_ruleset(data, publish=publish)
        except RuleSetInvalid as invalid:
            lines = "\n".join(f"  - {problem}" for problem in invalid.problems)
            raise CommandError(f"{file} was refused; nothing changed:\n{lines}") from invalid
        for warning in ruleset_warnings(ruleset.to_spec()):
            self.stderr.write(f"warning: {warning}")
        state = "published; every lead is being rescored" if publish else "saved as a draft"
        self.stdout.write(f"Rule set {ruleset.name!r} v{ruleset.version} {state}.")
