"""Your own code: project-specific transforms, checks and glue that the template does not know about.

This package belongs to you. `copier update` creates this file when it is missing and never changes
it afterwards (it is listed in the template's `_skip_if_exists`), so nothing here ever conflicts
with a template update. Everything else under the package is the template's and is merged on update;
keep your changes there small, or move them here and import them.
"""
