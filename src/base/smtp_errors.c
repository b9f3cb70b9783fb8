/* smtp_errors.c -- names and messages of the engine error codes. */
#include "smtp_errors.h"

static const char *const smtp_errnames[] = {
#define SMTP_ERR_NAME(name, msg) "E" #name,
    SMTP_ERRORS(SMTP_ERR_NAME)
#undef SMTP_ERR_NAME
};

static const char *const smtp_errmsgs[] = {
#define SMTP_ERR_MSG(name, msg) msg,
    SMTP_ERRORS(SMTP_ERR_MSG)
#undef SMTP_ERR_MSG
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
