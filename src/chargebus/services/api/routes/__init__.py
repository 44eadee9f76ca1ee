"""The API's resources, a module each; every handler calls the library functions the
command line calls."""
