from leads.imports import LeadImport
from leads.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import the leads CSV (contract §2): all or nothing unless --skip-errors."
    importer = LeadImport
    noun = "leads"
