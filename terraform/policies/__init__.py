"""checkov custom policies (loaded with --external-checks-dir; checkov needs this file to import the folder)."""
