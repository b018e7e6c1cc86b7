from leads.imports import ActivityImport
from leads.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import the activities CSV (contract §2): all or nothing unless --skip-errors."
    importer = ActivityImport
    noun = "activities"
