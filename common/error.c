/* error.c: texts for the project's error codes. */
#include "error.h"

const char *
hsi_strerror(int err)
{
	switch (err) {
	case HSI_OK:
		return "success";
	case HSI_ENOMEM:
		return "out of memory";
	case HSI_EINVAL:
		return "invalid input";
	case HSI_ERANGE:
		return "value out of range";
	case HSI_ETOOBIG:
		return "input over its size limit";
	case HSI_EIO:
		return "input/output error";
	case HSI_EDB:
		return "database error";
	case HSI_EPROTO:
		return "malformed message";
	case HSI_EAUTH:
		return "authentication failed";
	case HSI_ENOENT:
		return "not found";
	case HSI_EENCODING:
		return "not valid UTF-8";
	case HSI_ETIMEDOUT:
		return "timed out";
	case HSI_ECLOSED:
		return "closed";
	case HSI_ESTATE:
		return "invalid state";
	}
	return "unknown error";
}
