// SPDX-License-Identifier: Apache-2.0
//
// A Java TLS client as applications are: the JDK's own TrustManager over
// the trust store named by -Djavax.net.ssl.trustStore (JKS or PKCS#12),
// host name checked as HTTPS does. It sends a GET and prints the status
// line and the SHA-256 of the certificate the server presented; exit 0 on
// a verified response, 1 with the reason otherwise.
//
// With SECONDS and STOPFILE it repeats a new connection every 0.5 s until
// STOPFILE exists or SECONDS pass, reading the trust store afresh each
// time (as a restarted application would: a running JVM never re-reads
// it), one line per connection ("TIME java ok SHA256" or "TIME java FAIL
// reason"), and exits 0.
//
// usage: java TlsGet HOST PORT [PATH [SECONDS STOPFILE]]
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class TlsGet {
    static String get(String host, int port, String path) throws Exception {
        KeyStore ks = KeyStore.getInstance(System.getProperty("javax.net.ssl.trustStoreType", "JKS"));
        String pw = System.getProperty("javax.net.ssl.trustStorePassword");
        try (InputStream in = new FileInputStream(System.getProperty("javax.net.ssl.trustStore"))) {
            ks.load(in, pw == null ? null : pw.toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(host, port)) {
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.setSoTimeout(10000);
            s.startHandshake();
            Certificate leaf = s.getSession().getPeerCertificates()[0];
            byte[] md = MessageDigest.getInstance("SHA-256").digest(leaf.getEncoded());
            StringBuilder hex = new StringBuilder();
            for (byte b : md) {
                hex.append(String.format("%02x", b));
            }
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader r = new BufferedReader(
                    new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
            String status = r.readLine();
            if (status == null || !status.startsWith("HTTP/")) {
                throw new Exception("no HTTP response: " + status);
            }
            return "status: " + status + "\nsha256: " + hex;
        }
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String path = args.length > 2 ? args[2] : "/";
        if (args.length > 4) {
            long end = System.currentTimeMillis() + Long.parseLong(args[3]) * 1000;
            while (!Files.exists(Paths.get(args[4])) && System.currentTimeMillis() < end) {
                long now = System.currentTimeMillis() / 1000;
                try {
                    String r = get(host, port, path);
                    System.out.println(now + " java ok " + r.substring(r.indexOf("sha256: ") + 8));
                } catch (Exception e) {
                    System.out.println(now + " java FAIL " + e);
                }
                System.out.flush();
                Thread.sleep(500);
            }
            return;
        }
        try {
            System.out.println(get(host, port, path));
        } catch (Exception e) {
            System.out.println("error: " + e);
            System.exit(1);
        }
    }
}
