// Boost.URL compiled once for the whole program (Debian packages it without a library).
#include <boost/url/src.hpp>
