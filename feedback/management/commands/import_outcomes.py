from feedback.imports import OutcomeImport
from leads.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import the outcomes CSV (contract §2): all or nothing unless --skip-errors."
    importer = OutcomeImport
    noun = "outcomes"
