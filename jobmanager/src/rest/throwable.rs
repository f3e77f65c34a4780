//! A Java-serialized `org.apache.flink.util.SerializedThrowable`, for failure causes.
//!
//! Flink's Java client reads a failure cause (`failure-cause` of a savepoint or job result) by
//! Java-deserializing the base64 `serialized-throwable` field; `null` there makes it fail with
//! a `NullPointerException` instead of showing the cause. So this module writes the bytes a
//! JVM writes for a `SerializedThrowable` with a message, the original class name and the
//! printed stack trace, no serialized original exception (Flink then shows the
//! `SerializedThrowable` itself: `"<class>: <message>"`), no cause and an empty stack trace.
//!
//! The layout follows the Java Object Serialization Stream Protocol; a unit test compares the
//! output with bytes written by a JVM for a class of the same name, `serialVersionUID` and
//! fields.

/// `serialVersionUID` of `org.apache.flink.util.SerializedThrowable`.
const SERIALIZED_THROWABLE_UID: i64 = 7284183123441947635;
/// `serialVersionUID` of `java.lang.Exception`.
const EXCEPTION_UID: i64 = -3387516993124229948;
/// `serialVersionUID` of `java.lang.Throwable`.
const THROWABLE_UID: i64 = -3042686055658047285;
/// The computed `serialVersionUID` of `StackTraceElement[]`.
const STACK_TRACE_ARRAY_UID: i64 = 0x02462a3c3cfd2239;
/// `serialVersionUID` of `java.util.Collections$EmptyList`.
const EMPTY_LIST_UID: i64 = 0x7ab817b43ca79ede;

const STREAM_MAGIC: u16 = 0xaced;
const STREAM_VERSION: u16 = 5;
const TC_NULL: u8 = 0x70;
const TC_REFERENCE: u8 = 0x71;
const TC_CLASSDESC: u8 = 0x72;
const TC_OBJECT: u8 = 0x73;
const TC_STRING: u8 = 0x74;
const TC_ARRAY: u8 = 0x75;
const TC_ENDBLOCKDATA: u8 = 0x78;
const TC_LONGSTRING: u8 = 0x7c;
const SC_WRITE_METHOD: u8 = 0x01;
const SC_SERIALIZABLE: u8 = 0x02;
/// Handles are numbered from here in the order objects appear in the stream.
const BASE_WIRE_HANDLE: u32 = 0x7e0000;
/// The handle of the string `Ljava/lang/String;`, the second object in the stream.
const STRING_TYPE_HANDLE: u32 = BASE_WIRE_HANDLE + 1;

/// The base64 (standard alphabet, padded, as Jackson writes binary) Java serialization of a
/// `SerializedThrowable`.
pub(crate) fn serialized_throwable_base64(class: &str, message: &str, stack_trace: &str) -> String {
    base64(&serialized_throwable(class, message, stack_trace))
}

/// The Java serialization of a `SerializedThrowable` (see the module docs).
pub(crate) fn serialized_throwable(class: &str, message: &str, stack_trace: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.u16(STREAM_MAGIC);
    w.u16(STREAM_VERSION);
    w.u8(TC_OBJECT);
    // Class descriptors, from the class itself up to the first non-serializable superclass.
    w.class_desc_start("org.apache.flink.util.SerializedThrowable", SERIALIZED_THROWABLE_UID);
    w.u8(SC_SERIALIZABLE);
    w.u16(3);
    w.object_field("fullStringifiedStackTrace", FieldType::New("Ljava/lang/String;"));
    w.object_field("originalErrorClassName", FieldType::Ref(STRING_TYPE_HANDLE));
    w.array_field("serializedException", "[B");
    w.u8(TC_ENDBLOCKDATA);
    w.class_desc_start("java.lang.Exception", EXCEPTION_UID);
    w.u8(SC_SERIALIZABLE);
    w.u16(0);
    w.u8(TC_ENDBLOCKDATA);
    w.class_desc_start("java.lang.Throwable", THROWABLE_UID);
    w.u8(SC_SERIALIZABLE | SC_WRITE_METHOD);
    w.u16(4);
    w.object_field("cause", FieldType::New("Ljava/lang/Throwable;"));
    w.object_field("detailMessage", FieldType::Ref(STRING_TYPE_HANDLE));
    w.array_field("stackTrace", "[Ljava/lang/StackTraceElement;");
    w.object_field("suppressedExceptions", FieldType::New("Ljava/util/List;"));
    w.u8(TC_ENDBLOCKDATA);
    w.u8(TC_NULL); // no further superclass
                   // Field values, superclass first. Throwable: cause, detailMessage, stackTrace, suppressed.
    w.u8(TC_NULL);
    w.string(message);
    w.u8(TC_ARRAY);
    w.class_desc_start("[Ljava.lang.StackTraceElement;", STACK_TRACE_ARRAY_UID);
    w.u8(SC_SERIALIZABLE);
    w.u16(0);
    w.u8(TC_ENDBLOCKDATA);
    w.u8(TC_NULL);
    w.u32(0); // no elements
    w.u8(TC_OBJECT);
    w.class_desc_start("java.util.Collections$EmptyList", EMPTY_LIST_UID);
    w.u8(SC_SERIALIZABLE);
    w.u16(0);
    w.u8(TC_ENDBLOCKDATA);
    w.u8(TC_NULL);
    w.u8(TC_ENDBLOCKDATA); // end of Throwable.writeObject's data
                           // SerializedThrowable: fullStringifiedStackTrace, originalErrorClassName, serializedException.
    w.string(stack_trace);
    w.string(class);
    w.u8(TC_NULL);
    w.bytes
}

/// The type of an object field: a new type string, or a reference to one written before.
enum FieldType<'a> {
    New(&'a str),
    Ref(u32),
}

#[derive(Default)]
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }

    /// A name in a class descriptor: `writeUTF` without a type code.
    fn utf(&mut self, s: &str) {
        let encoded = modified_utf8(s);
        let len = u16::try_from(encoded.len()).expect("class and field names are short");
        self.u16(len);
        self.bytes.extend_from_slice(&encoded);
    }

    /// `TC_CLASSDESC`, the class name and its `serialVersionUID`.
    fn class_desc_start(&mut self, name: &str, uid: i64) {
        self.u8(TC_CLASSDESC);
        self.utf(name);
        self.bytes.extend_from_slice(&uid.to_be_bytes());
    }

    fn object_field(&mut self, name: &str, ty: FieldType<'_>) {
        self.u8(b'L');
        self.utf(name);
        match ty {
            FieldType::New(ty) => self.string(ty),
            FieldType::Ref(handle) => {
                self.u8(TC_REFERENCE);
                self.u32(handle);
            }
        }
    }

    fn array_field(&mut self, name: &str, ty: &str) {
        self.u8(b'[');
        self.utf(name);
        self.string(ty);
    }

    /// A `String` object: `TC_STRING` with a 16-bit length, or `TC_LONGSTRING` past 64 KiB.
    fn string(&mut self, s: &str) {
        let encoded = modified_utf8(s);
        match u16::try_from(encoded.len()) {
            Ok(len) => {
                self.u8(TC_STRING);
                self.u16(len);
            }
            Err(_) => {
                self.u8(TC_LONGSTRING);
                self.bytes.extend_from_slice(&(encoded.len() as u64).to_be_bytes());
            }
        }
        self.bytes.extend_from_slice(&encoded);
    }
}

/// Java's "modified UTF-8": UTF-16 code units, NUL as two bytes, surrogates as three each.
fn modified_utf8(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for unit in s.encode_utf16() {
        match unit {
            0x0001..=0x007f => out.push(unit as u8),
            0x0000 | 0x0080..=0x07ff => {
                out.push(0xc0 | (unit >> 6) as u8);
                out.push(0x80 | (unit & 0x3f) as u8);
            }
            _ => {
                out.push(0xe0 | (unit >> 12) as u8);
                out.push(0x80 | ((unit >> 6) & 0x3f) as u8);
                out.push(0x80 | (unit & 0x3f) as u8);
            }
        }
    }
    out
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a JVM (OpenJDK 17) wrote for `new SerializedThrowable("MSG", "CLS", "STK")` of a
    /// class with Flink's name, `serialVersionUID` and fields, whose constructor set an empty
    /// stack trace and a null cause, as Flink's does.
    const JVM_REFERENCE: &str = concat!(
        "aced0005737200296f72672e6170616368652e666c696e6b2e7574696c2e5365",
        "7269616c697a65645468726f7761626c6565169df51fa713f30200034c001966",
        "756c6c537472696e676966696564537461636b54726163657400124c6a617661",
        "2f6c616e672f537472696e673b4c00166f726967696e616c4572726f72436c61",
        "73734e616d6571007e00015b001373657269616c697a6564457863657074696f",
        "6e7400025b42787200136a6176612e6c616e672e457863657074696f6ed0fd1f",
        "3e1a3b1cc4020000787200136a6176612e6c616e672e5468726f7761626c65d5",
        "c635273977b8cb0300044c000563617573657400154c6a6176612f6c616e672f",
        "5468726f7761626c653b4c000d64657461696c4d65737361676571007e00015b",
        "000a737461636b547261636574001e5b4c6a6176612f6c616e672f537461636b",
        "5472616365456c656d656e743b4c001473757070726573736564457863657074",
        "696f6e737400104c6a6176612f7574696c2f4c6973743b7870707400034d5347",
        "7572001e5b4c6a6176612e6c616e672e537461636b5472616365456c656d656e",
        "743b02462a3c3cfd22390200007870000000007372001f6a6176612e7574696c",
        "2e436f6c6c656374696f6e7324456d7074794c6973747ab817b43ca79ede0200",
        "0078707874000353544b740003434c5370",
    );

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn matches_what_a_jvm_writes() {
        assert_eq!(hex(&serialized_throwable("CLS", "MSG", "STK")), JVM_REFERENCE);
    }

    #[test]
    fn modified_utf8_encodes_nul_and_supplementary_characters_as_java_does() {
        assert_eq!(modified_utf8("a\0é"), vec![b'a', 0xc0, 0x80, 0xc3, 0xa9]);
        // U+1F600 is the surrogate pair D83D DE00, each written as three bytes.
        assert_eq!(modified_utf8("\u{1F600}"), vec![0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]);
    }

    #[test]
    fn long_strings_use_tc_longstring() {
        let long = "x".repeat(70_000);
        let mut w = Writer::default();
        w.string(&long);
        assert_eq!(w.bytes[0], TC_LONGSTRING);
        assert_eq!(&w.bytes[1..9], &70_000u64.to_be_bytes());
        assert_eq!(w.bytes.len(), 9 + 70_000);
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected, "input {input:?}");
        }
    }
}
