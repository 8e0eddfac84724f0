//! The anomalies of MIME decoding (`mime::MimeAnomaly`). Shown by name with their detail;
//! the RFC and explanation are here for whoever teaches them.

use super::vocabulary;

vocabulary! {
    /// An anomaly found while decoding a message.
    pub enum Anomaly (name, explanation) {
        Unparseable = "unparseable", "RFC 5322 2.1", "no header or body could be read";
        NestingTooDeep = "nesting-too-deep", "mailscope Limits (RFC 2046 5.1: multiparts may nest)", "parts are nested deeper than mailscope opens";
        MissingClosingBoundary = "missing-closing-boundary", "RFC 2046 5.1.1", "a multipart body ends without its closing boundary";
        LineTooLong = "line-too-long", "RFC 5322 2.1.1", "a line is longer than 998 characters";
        HeaderWithoutColon = "header-without-colon", "RFC 5322 2.2", "a line of the header block is no field (it has no colon)";
        InvalidBase64 = "invalid-base64", "RFC 2045 6.8", "a part declared base64 does not decode as base64";
        InvalidQuotedPrintable = "invalid-quoted-printable", "RFC 2045 6.7", "a part declared quoted-printable does not decode as quoted-printable";
        TooManyAddresses = "too-many-addresses", "mailscope Limits (RFC 5322 3.6: address fields may list many)", "an address field lists more addresses than mailscope keeps";
        TooManyHeaders = "too-many-headers", "mailscope Limits (RFC 5322 3.6)", "the message has more header fields than mailscope lists";
        TooManyParts = "too-many-parts", "mailscope Limits (RFC 2046 5.1)", "the message has more entities than mailscope lists";
        TooManyAnomalies = "too-many-anomalies", "mailscope Limits", "more anomalies of one name than mailscope lists";
        Base64StrayCharacters = "base64-stray-characters", "RFC 2045 6.8", "a base64 part holds characters outside the base64 alphabet; they are ignored";
        EncodedMessagePart = "encoded-message-part", "RFC 2046 5.2.1", "a message/rfc822 part is labelled base64 or quoted-printable (only 7bit, 8bit or binary are allowed); it is decoded and opened";
        DecoderFailure = "decoder-failure", "mailscope (a bug, not the message's fault)", "the MIME decoder failed on this message";
    }
}
