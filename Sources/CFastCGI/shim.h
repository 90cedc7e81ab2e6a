// libfcgi (Debian: libfcgi-dev), through its reentrant FCGX_* API only:
// every call takes the request it works on, nothing is global but FCGX_Init.
// (fcgi_stdio.h, which redefines stdio, is never used.)
#include <fcgiapp.h>
