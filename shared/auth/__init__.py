"""Access control: who is calling (bearer tokens), what their roles allow, which org units they
see, and the audit trail of what they did."""

from shared.auth.http import access_table, authenticate, check_routes_declare_roles, current_access, require
from shared.auth.principal import EVERYONE, PEOPLE, Principal, Role
from shared.auth.tokens import TokenRefused, TokenVerifier

__all__ = ["EVERYONE", "PEOPLE", "Principal", "Role", "TokenRefused", "TokenVerifier", "access_table",
           "authenticate", "check_routes_declare_roles", "current_access", "require"]
