"""One router per page resource."""
