// SPDX-License-Identifier: Apache-2.0
//
// A Java TLS client as applications are: the JDK's own TrustManager over
// the trust store named by -Djavax.net.ssl.trustStore (JKS or PKCS#12),
// host name checked as HTTPS does. It sends one GET and prints the status
// line and the SHA-256 of the certificate the server presented; exit 0 on
// a verified response, 1 with the reason otherwise.
//
// usage: java TlsGet.java HOST PORT [PATH]
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

public class TlsGet {
    public static void main(String[] args) {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String path = args.length > 2 ? args[2] : "/";
        try (SSLSocket s = (SSLSocket) SSLSocketFactory.getDefault().createSocket(host, port)) {
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
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
            String status = in.readLine();
            System.out.println("status: " + status);
            System.out.println("sha256: " + hex);
            System.exit(status != null && status.startsWith("HTTP/") ? 0 : 1);
        } catch (Exception e) {
            System.out.println("error: " + e);
            System.exit(1);
        }
    }
}
