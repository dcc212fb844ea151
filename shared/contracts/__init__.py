"""The bodies that cross a service boundary, in one place every side imports: HTTP request and response
bodies between the gateway and the services, and the events on the bus. Versioned by package
(``shared.contracts.v1``)."""
