/*
 * error.h: the project's error codes. Functions return 0 on success or one
 * of these; hsi_strerror() gives a short English text.
 */
#ifndef HSI_ERROR_H
#define HSI_ERROR_H

enum hsi_err {
	HSI_OK = 0,
	HSI_ENOMEM,    /* out of memory */
	HSI_EINVAL,    /* invalid argument or input */
	HSI_ERANGE,    /* value out of range */
	HSI_ETOOBIG,   /* input over its size limit */
	HSI_EIO,       /* file or socket I/O failed */
	HSI_EDB,       /* PostgreSQL error */
	HSI_EPROTO,    /* malformed message */
	HSI_EAUTH,     /* bad signature, unknown key */
	HSI_ENOENT,    /* not found */
	HSI_EENCODING, /* not valid UTF-8 */
	HSI_ETIMEDOUT, /* deadline passed */
	HSI_ECLOSED,   /* object closed or stopping */
	HSI_ESTATE,    /* operation not valid in this state */
};

/* Returns a static string describing err (never NULL). */
const char *hsi_strerror(int err);

#endif
