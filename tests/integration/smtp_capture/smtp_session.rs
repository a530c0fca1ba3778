//! The server side of one SMTP session: just enough of RFC 5321 for lettre and any
//! pipelining client, with no STARTTLS or AUTH (never advertised, so never attempted).

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

use super::{CapturedEmail, Mailbox};

const EHLO_REPLY: &[u8] =
    b"250-127.0.0.1 identity test capture\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n";

#[derive(Default)]
struct Envelope {
    from: Option<String>,
    recipients: Vec<String>,
}

/// What the session does after a command line.
enum Step {
    Reply(&'static [u8]),
    ReceiveData,
    Quit,
}

/// One SMTP session. Commands are answered strictly in order, line by line, which is all a
/// pipelining client needs.
pub(super) async fn serve_session(stream: TcpStream, mailbox: &Mailbox) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut envelope = Envelope::default();
    let mut line = Vec::new();
    writer
        .write_all(b"220 127.0.0.1 ESMTP identity test capture\r\n")
        .await?;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        match step(&command, &mut envelope) {
            Step::Reply(reply) => writer.write_all(reply).await?,
            Step::ReceiveData => {
                writer
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let raw = read_data(&mut reader).await?;
                let Envelope { from, recipients } = std::mem::take(&mut envelope);
                let from = from.unwrap_or_default();
                mailbox.deliver(CapturedEmail {
                    from,
                    recipients,
                    raw,
                });
                writer.write_all(b"250 2.0.0 OK queued\r\n").await?;
            }
            Step::Quit => {
                writer.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
        }
    }
}

/// Applies one command to the envelope; verbs are case-insensitive (RFC 5321 §2.4).
fn step(command: &str, envelope: &mut Envelope) -> Step {
    let upper = command.to_ascii_uppercase();
    if upper.starts_with("EHLO") || upper.starts_with("HELO") || upper == "RSET" {
        *envelope = Envelope::default();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            EHLO_REPLY
        } else {
            b"250 2.0.0 OK\r\n"
        };
        Step::Reply(reply)
    } else if upper.starts_with("MAIL FROM:") {
        *envelope = Envelope {
            from: Some(address_of(command)),
            recipients: Vec::new(),
        };
        Step::Reply(b"250 2.1.0 OK\r\n")
    } else if upper.starts_with("RCPT TO:") {
        if envelope.from.is_none() {
            return Step::Reply(b"503 5.5.1 MAIL first\r\n");
        }
        envelope.recipients.push(address_of(command));
        Step::Reply(b"250 2.1.5 OK\r\n")
    } else if upper == "DATA" {
        if envelope.recipients.is_empty() {
            return Step::Reply(b"503 5.5.1 RCPT first\r\n");
        }
        Step::ReceiveData
    } else if upper.starts_with("NOOP") {
        Step::Reply(b"250 2.0.0 OK\r\n")
    } else if upper == "QUIT" {
        Step::Quit
    } else {
        Step::Reply(b"502 5.5.2 command not implemented\r\n")
    }
}

/// The address inside `<…>` of a MAIL FROM / RCPT TO line, ignoring any parameters.
fn address_of(command: &str) -> String {
    let argument = command.split_once(':').map_or("", |(_, rest)| rest).trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(open), Some(close)) if open < close => argument[open + 1..close].to_owned(),
        _ => argument.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

/// Reads DATA up to the lone `.` line, undoing dot-stuffing. The CRLF before the final dot
/// belongs to the terminator, so it is not part of the message.
async fn read_data(reader: &mut BufReader<OwnedReadHalf>) -> std::io::Result<String> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
    if data.ends_with(b"\r\n") {
        data.truncate(data.len() - 2);
    }
    Ok(String::from_utf8_lossy(&data).into_owned())
}
