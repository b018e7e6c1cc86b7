"""`field__any=values`: `__in` that sends its values as one array on PostgreSQL.

An API batch looks up to 1,000 e-mails, ids and external ids at once. As `IN (%s, …)`, Django
prepares and psycopg quotes each value in Python, and PostgreSQL parses a statement of a
thousand placeholders; that cost about a tenth of a batch. `= ANY(array)` is one parameter.
Other databases get the plain `IN`. Registered on text, integer and date fields and foreign
keys (not on JSON fields, where `__any` would be a key).
"""

from __future__ import annotations

import re

from django.core.exceptions import EmptyResultSet
from django.db.models import CharField, DateField, ForeignObject, IntegerField, Model
from django.db.models.lookups import In


class AnyOf(In):
    lookup_name = "any"

    def get_prep_lookup(self):
        if not self.rhs_is_direct_value() or any(
            hasattr(value, "resolve_expression") for value in self.rhs
        ):
            return super().get_prep_lookup()  # expressions: the plain IN
        prepare = self.lhs.output_field.get_prep_value
        return [prepare(value.pk if isinstance(value, Model) else value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        within = self.copy()
        within.rhs = _in_range(list(self.rhs), self.lhs.output_field, connection)
        return In.as_sql(within, compiler, connection)

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        field = self.lhs.output_field
        values = [
            field.get_db_prep_value(value, connection, prepared=True)
            for value in dict.fromkeys(self.rhs)
            if value is not None
        ]
        values = _in_range(values, field, connection)
        if not values:
            raise EmptyResultSet  # as `__in` does: no query at all
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # The type without its size: a cast to varchar(200) would cut a longer value short, and
        # it could then match a stored one that begins with it.
        array_type = re.sub(r"\(.*\)", "", field.db_type(connection))
        return f"{lhs} = ANY(CAST(%s AS {array_type}[]))", [*lhs_params, array_text(values)]


def _in_range(values: list, field, connection) -> list:
    """Integers the column can hold: an id past its range matches nothing. (Sent as it is,
    SQLite's driver refuses it, and PostgreSQL's cast to the array's type.)"""
    if not values or not all(type(value) is int for value in values):
        return values
    target = field.target_field if field.is_relation else field
    low, high = connection.ops.integer_field_ranges.get(target.get_internal_type(), (None, None))
    if low is None:
        return values
    return [value for value in values if low <= value <= high]


def array_text(values: list) -> str | list:
    """Ids and texts as the array's text: psycopg would escape each element in Python, with a
    regular expression apiece. Other values (times) are left to psycopg."""
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    if all(type(value) is str for value in values):
        quoted = (value.replace("\\", "\\\\").replace('"', '\\"') for value in values)
        return "{" + ",".join(f'"{value}"' for value in quoted) + "}"
    return values


for field_class in (CharField, IntegerField, DateField, ForeignObject):
    field_class.register_lookup(AnyOf)
