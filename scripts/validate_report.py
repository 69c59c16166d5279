#!/usr/bin/python3
"""Validate report.json files against docs/report.schema.json (JSON Schema 2020-12).

    validate_report.py SCHEMA REPORT...

Exit status: 0 all valid, 1 a report is invalid (each error printed with its JSON path),
2 bad usage or unreadable file, 77 the python3 jsonschema module is missing (Debian:
apt-get install python3-jsonschema), which the command-line test reports as a skip.
"""
import json
import sys


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import jsonschema
    except ImportError:
        print("MODELMIX_SKIP: python3 jsonschema is not installed (apt-get install python3-jsonschema)")
        return 77
    try:
        with open(argv[1]) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"{argv[1]}: not a usable schema: {e}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    invalid = 0
    for path in argv[2:]:
        try:
            with open(path) as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{path}: cannot read: {e}", file=sys.stderr)
            return 2
        errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
        for e in errors[:20]:
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            print(f"{path}: {where}: {e.message}", file=sys.stderr)
        invalid += bool(errors)
        if not errors:
            print(f"{path}: valid")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
