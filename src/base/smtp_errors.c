/* smtp_errors.c -- names, messages and kinds of the error codes. */
#include "smtp_errors.h"

enum { KIND_NONE, KIND_PEER, KIND_DRIVER, KIND_CALLER };

static const char *const smtp_errnames[] = {
#define SMTP_ERR_NAME(name, kind, msg) "E" #name,
    SMTP_ERRORS(SMTP_ERR_NAME)
#undef SMTP_ERR_NAME
};

static const char *const smtp_errmsgs[] = {
#define SMTP_ERR_MSG(name, kind, msg) msg,
    SMTP_ERRORS(SMTP_ERR_MSG)
#undef SMTP_ERR_MSG
};

static const unsigned char smtp_errkinds[] = {
#define SMTP_ERR_KIND(name, kind, msg) KIND_##kind,
    SMTP_ERRORS(SMTP_ERR_KIND)
#undef SMTP_ERR_KIND
};

const char *smtp_errname(int err)
{
    if (err < 0 || err >= SMTP_E__COUNT)
        return "EUNKNOWN";
    return smtp_errnames[err];
}

const char *smtp_errmsg(int err)
{
    if (err < 0 || err >= SMTP_E__COUNT)
        return "unknown error";
    return smtp_errmsgs[err];
}

int smtp_err_is_caller(int err)
{
    return err > 0 && err < SMTP_E__COUNT && smtp_errkinds[err] == KIND_CALLER;
}
