/*
 * lpfc_incbin.h - embed a file's bytes in the library's read-only data.
 *
 *     LPFC_INCBIN(model_weights, "/abs/path/weights.bin")
 *
 * declares, with hidden visibility,
 *
 *     extern const unsigned char model_weights[];      64-byte aligned
 *     extern const unsigned char model_weights_end[];  one past the last byte
 *
 * The bytes are assembled in with the assembler's `.incbin`, so a model's
 * weights never pass through the C compiler as a giant array literal and the
 * library is self-contained.  Works with GCC and Clang for ELF targets
 * (Linux, Android).  The path must be a string literal with no characters
 * that need escaping in assembler strings (the code generator guarantees it:
 * it writes weights to files with generated names).  Use at file scope.
 */
#ifndef LPFC_INCBIN_H
#define LPFC_INCBIN_H

#define LPFC_INCBIN_STR2(x) #x
#define LPFC_INCBIN_STR(x) LPFC_INCBIN_STR2(x)

#ifdef __cplusplus
#define LPFC_INCBIN_EXTERN extern "C"
#else
#define LPFC_INCBIN_EXTERN extern
#endif

#define LPFC_INCBIN(sym, path)                                                                   \
    __asm__(".section .rodata\n"                                                                 \
            ".global " LPFC_INCBIN_STR(sym) "\n"                                                 \
            ".hidden " LPFC_INCBIN_STR(sym) "\n"                                                 \
            ".type " LPFC_INCBIN_STR(sym) ", %object\n"                                          \
            ".balign 64\n" LPFC_INCBIN_STR(sym) ":\n"                                            \
            ".incbin \"" path "\"\n"                                                             \
            ".global " LPFC_INCBIN_STR(sym) "_end\n"                                             \
            ".hidden " LPFC_INCBIN_STR(sym) "_end\n"                                             \
            ".type " LPFC_INCBIN_STR(sym) "_end, %object\n" LPFC_INCBIN_STR(sym) "_end:\n"       \
            ".byte 0\n"                                                                          \
            ".previous\n");                                                                      \
    LPFC_INCBIN_EXTERN __attribute__((visibility("hidden"))) const unsigned char sym[];          \
    LPFC_INCBIN_EXTERN __attribute__((visibility("hidden"))) const unsigned char sym##_end[]

#endif /* LPFC_INCBIN_H */
