// SPDX-License-Identifier: Apache-2.0
//
// Tomcat's documented TLS reload without a restart: the JMX operation
// reloadSslHostConfigs on each of its protocol handlers (all of them TLS
// connectors here). Tomcat re-reads its keystores; connections that are
// open stay open. Used as a store's after_replace. Exit 0 when every
// handler reloaded.
//
// usage: java TomcatReload.java HOST JMXPORT
import java.util.Set;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class TomcatReload {
    public static void main(String[] args) throws Exception {
        JMXServiceURL url = new JMXServiceURL(
                "service:jmx:rmi:///jndi/rmi://" + args[0] + ":" + args[1] + "/jmxrmi");
        int n = 0;
        try (JMXConnector c = JMXConnectorFactory.connect(url)) {
            MBeanServerConnection s = c.getMBeanServerConnection();
            Set<ObjectName> names = s.queryNames(new ObjectName("Catalina:type=ProtocolHandler,*"), null);
            // Every connector here has TLS; one without would refuse the operation.
            for (ObjectName o : names) {
                s.invoke(o, "reloadSslHostConfigs", new Object[0], new String[0]);
                System.out.println("reloaded " + o);
                n++;
            }
        }
        if (n == 0) {
            System.out.println("no TLS connector found");
            System.exit(1);
        }
    }
}
